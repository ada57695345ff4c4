"""The commands' library entry points, one per command (`tiertool.run_audit`, `monitor`, `inspect`, ...):
each drives the stages below it; cli.py only parses options and prints."""
