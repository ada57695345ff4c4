"""Worst-scoring examples per task for the report, with their prompts read back from the log.

Prompts are not kept in the audit, so they are read from the log line each example came from (its `source`,
"file:line"), only when examples are asked for.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..store import Audit


def examples(audit: Audit, n: int) -> dict[str, list[dict[str, Any]]]:
    """The worst examples (tiertool.examples), each with its `prompt` (None when the log line is gone)."""
    from .examples import worst_examples

    out = worst_examples(audit, n)
    prompts = read_prompts({rec["source"] for recs in out.values() for rec in recs}, audit)
    for recs in out.values():
        for rec in recs:
            rec["prompt"] = prompts.get(rec["source"])
    return out


def read_prompts(sources: set[str], audit: Audit) -> dict[str, str]:
    """source ("file:line") -> the request's messages as text, for the lines that can still be read."""
    from ..ingest import FORMATS

    wanted: dict[str, set[int]] = defaultdict(set)
    for src in sources:
        path, _, line = src.rpartition(":")
        if line.isdigit():
            wanted[path].add(int(line))
    formats = audit.meta.get("formats") or {}
    group_by = (audit.meta.get("config") or {}).get("group_by", "auto")
    found: dict[str, str] = {}
    for path, lines in wanted.items():
        module = FORMATS.get(formats.get(path, ""))
        if module is None or not Path(path).is_file():
            continue
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if lineno not in lines:
                    continue
                try:
                    req = module.parse(json.loads(raw), f"{path}:{lineno}", group_by)
                except ValueError:
                    continue
                found[f"{path}:{lineno}"] = "\n\n".join(f"[{m.get('role', '?')}] {_text(m.get('content'))}"
                                                       for m in req.messages)
                if len(found) == len(sources):
                    return found
    return found


def _text(content: Any) -> str:
    from ..ingest.common import content_text

    return content_text(content) or ""
