"""`tiertool audit --labels FILE`: grades from humans, an eval run or another tool, overriding computed
scores; and ground-truth `expected` answers. JSON lines or CSV, one row per request (and optionally tier)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..limits import decode
from ..records import Score

TRUE = {"true", "1", "yes", "pass", "passed", "y"}
FALSE = {"false", "0", "no", "fail", "failed", "n"}
IMPORTED = "imported label"  # how a Result graded by a label starts its reason
KEYS = ("request_id", "id", "tier", "passed", "score", "reason", "expected")
FORMAT = ("expected {request_id (or id), tier?, passed (true/false) and/or score (0..1), reason?, expected?}; "
          "score alone passes at >= 0.5")


@dataclass(frozen=True)
class Labels:
    grades: dict[tuple[str, str | None], tuple[Score, str]] = field(default_factory=dict)  # -> (score, source)
    expected: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # request ids whose label or expected answer was applied

    def has(self, request_id: str, tier: str) -> bool:
        """Whether a label grades this cheaper tier's answer: then the answer itself is not needed."""
        return (request_id, tier) in self.grades or (request_id, None) in self.grades

    def grade(self, request_id: str, tier: str, reference_tier: bool = False) -> Score | None:
        """The imported grade of this answer; a row without a tier grades the cheaper tiers only."""
        hit = self.grades.get((request_id, tier)) or (None if reference_tier else self.grades.get((request_id, None)))
        if hit is None:
            return None
        self.used.add(request_id)
        score, source = hit
        return Score(score.value, score.passed, f"{IMPORTED} ({source})" + (f": {score.reason}"
                                                                               if score.reason else ""))

    def __len__(self) -> int:
        return len(self.grades) + len(self.expected)

    def summary(self, path: str | Path) -> str:
        """How many labelled requests the audit used: a label for an unsampled request is not silently lost."""
        ids = {rid for rid, _ in self.grades} | set(self.expected)
        unused = len(ids - self.used)
        return (f"labels {path}: applied to {len(ids & self.used)} of {len(ids)} labelled requests"
                + (f"; {unused} not in the sample (or their answers could not be scored)" if unused else ""))


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().casefold()
    if s in TRUE or s in FALSE:
        return s in TRUE
    raise ValueError(f"passed must be true/false, got {v!r}")


def _row(row: dict[str, Any]) -> tuple[str, str | None, Score | None, str | None]:
    if None in row:
        raise ValueError("the row has more fields than the header")
    unknown = sorted(map(str, set(row) - set(KEYS)))
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}")
    rid = row.get("request_id") or row.get("id")
    if rid in (None, ""):
        raise ValueError("missing request_id")
    passed = None if row.get("passed") in (None, "") else _bool(row["passed"])
    score = None if row.get("score") in (None, "") else float(row["score"])
    if score is not None and not 0 <= score <= 1:
        raise ValueError(f"score must be in 0..1, got {score:g}")
    expected = row.get("expected")
    if passed is None and score is None and expected in (None, ""):
        raise ValueError("needs passed, score or expected")
    grade = None
    if passed is not None or score is not None:
        value = score if score is not None else float(bool(passed))
        grade = Score(value, passed if passed is not None else value >= 0.5, str(row.get("reason") or ""))
    return str(rid), (str(row["tier"]) if row.get("tier") not in (None, "") else None), grade, \
        (None if expected in (None, "") else str(expected))


def load_labels(path: str | Path) -> Labels:
    """Read a labels file (UTF-8, with or without BOM, or UTF-16); a bad row, or a request labelled twice, is
    an error naming the file, the line(s) and what was expected."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: labels file not found")
    try:
        text = decode(p.read_bytes())
    except ValueError as e:
        raise InputError(f"{p}: {e}") from None
    labels = Labels()
    rows: Iterator[tuple[int, dict[str, Any] | str]]
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = ((reader.line_num, r) for r in reader)
    else:
        rows = ((i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip())
    first: dict[tuple[str, tuple[str, str | None]], int] = {}  # what was labelled -> the line that did
    for line, raw in rows:
        try:
            row = raw if isinstance(raw, dict) else json.loads(raw)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            rid, tier, grade, expected = _row(row)
        except (ValueError, TypeError, RecursionError, csv.Error) as e:
            raise InputError(f"{p}:{line}: {_why(e)}; {FORMAT}") from None
        for what, key, given in (("labelled", (rid, tier), grade), ("given an expected answer", (rid, None), expected)):
            if given is None:
                continue
            seen = first.setdefault((what, key), line)
            if seen != line:
                on = f" on tier {tier}" if what == "labelled" and tier else ""
                raise InputError(f"{p}:{line}: request {rid!r} is {what}{on} twice (first on line {seen}); "
                                 f"keep one row per request (and tier)")
        if grade is not None:
            labels.grades[(rid, tier)] = (grade, f"{p.name}:{line}")
        if expected is not None:
            labels.expected[rid] = expected
    return labels


def _why(e: Exception) -> str:
    if isinstance(e, TypeError):
        return "passed and score must be plain values (true/false, a number in 0..1), not lists or objects"
    return str(e).splitlines()[0] if str(e) else type(e).__name__
