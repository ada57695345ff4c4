"""Real components for the tests: a throwaway PostgreSQL cluster, a LiteLLM proxy process, a local Spark session.

Registered as pytest plugins by tests/conftest.py; see tests/kit/README.md for what each gives and why.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server the kit starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
