"""Ingest: read request logs in any supported format, streaming, with every unit accounted for.

`scan` is the one pass every command uses (final task names applied); `read_logs` is the raw stream underneath
(reader.py), `find_requests` reads given requests back (for `report --examples`).
"""

from .reader import LogReader, ReadStats, find_requests, read_logs
from .traffic import TaskTraffic, Traffic, scan

__all__ = ["LogReader", "ReadStats", "TaskTraffic", "Traffic", "find_requests", "read_logs", "scan"]
