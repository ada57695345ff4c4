"""What a fixture-reading test compares: the counts tiertool read from a fixture, and the same counts the test
computes itself from the raw fixture (json / pyarrow), call by call, from the fixture's own fields."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tiertool.cli import app
from tiertool.ingest import read_logs

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Call:
    """One model call as the raw fixture holds it."""

    task: str
    model: str  # the model that answered (the requested one when the call failed)
    ok: bool  # the call succeeded
    replayable: bool  # the log keeps everything the request sent
    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0
    cost: float = 0.0


def expected(calls: list[Call], skipped: int, joined: int = 0) -> dict[str, Any]:
    return {"records": len(calls), "skipped": skipped, "joined": joined,
            "replayable": sum(c.ok and c.replayable for c in calls), "errors": sum(not c.ok for c in calls),
            "tasks": Counter(c.task for c in calls), "models": Counter(c.model for c in calls),
            "tokens": (sum(c.input for c in calls), sum(c.output for c in calls), sum(c.cached for c in calls),
                       sum(c.reasoning for c in calls)),
            "cost": round(sum(c.cost for c in calls), 10)}


def read(*paths: Path) -> dict[str, Any]:
    """tiertool's counts for these files, after checking that every unit is accounted for and that `inspect`
    reads them without a traceback."""
    reader = read_logs(list(paths), infer_tasks=False)
    reqs = list(reader)
    st = reader.stats
    assert st.records == len(reqs) and st.records + st.skipped == st.lines
    result = CliRunner().invoke(app, ["inspect", *map(str, paths), "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert json.loads(result.output)["records"] == st.records
    return {"records": st.records, "skipped": st.skipped, "joined": st.joined,
            "replayable": sum(r.replayable for r in reqs), "errors": sum(r.status != "success" for r in reqs),
            "tasks": Counter(r.task for r in reqs), "models": Counter(r.model for r in reqs),
            "tokens": (sum(r.input_tokens for r in reqs), sum(r.output_tokens for r in reqs),
                       sum(r.cached_tokens for r in reqs), sum(r.reasoning_tokens for r in reqs)),
            "cost": round(sum(r.cost or 0.0 for r in reqs), 10)}


def requests(*paths: Path) -> list[Any]:
    return list(read_logs(list(paths), infer_tasks=False))


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
