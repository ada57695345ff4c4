"""Defaults defined once: the files tiertool reads and writes, and the thresholds a user may override."""

AUDIT_DIR = ".tiertool"  # the audit folder (`--out` of audit, `--audit` of recommend and report)
AUDIT_DB = "audit.sqlite"  # the latest audit, inside the audit folder
CACHE_FILE = "cache.sqlite"  # the answer cache, inside the audit folder unless `replay.cache` says otherwise
CONFIG_FILE = "tiertool.yaml"
TIERS_FILE = "tiers.yaml"  # the assignment `recommend` writes and `report --check` / `monitor` read
DRIFT_THRESHOLD = 0.25  # the usual "significant shift" level of the population stability index
# The names users type after --format, listed in the CLI's help without importing the registries (which load
# pydantic); tests/test_cli.py holds them equal to ingest.formats.FORMAT_NAMES and report.render.RENDERERS.
LOG_FORMATS = ("litellm-spend", "helicone", "litellm-payload", "anthropic-batch-result", "anthropic-batch-request",
               "openai-batch-input", "openai-batch-output", "anthropic-message", "langfuse-export", "langfuse-api",
               "llm-logs", "braintrust", "weave", "langsmith", "openrouter", "openai-chat", "chat-jsonl",
               "openai-chat-completion", "openai-response", "mlflow", "openinference", "otel-genai", "mapped")
REPORT_FORMATS = ("term", "md", "html", "json")
