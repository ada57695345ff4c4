"""Real components for the tests: a throwaway PostgreSQL cluster, a LiteLLM proxy process, a local Spark session.

Registered as pytest plugins by tests/conftest.py; see tests/kit/README.md for what each gives and why.
"""
