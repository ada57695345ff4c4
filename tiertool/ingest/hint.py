"""Why a log gave no record at all, said so that the user can fix it: what its first lines hold, the nearest
known format and what it lacks, and the `--map` that would read the file as it is. Reading nothing is an
error (exit 2), never a green run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .formats import FORMAT_LIST

# Field names that usually hold each mapped value, most likely first.
GUESSES = {
    "prompt": ("messages", "prompt", "input", "question", "query", "instruction", "request", "text", "content"),
    "model": ("model", "model_name", "modelname", "model_id", "llm", "engine", "deployment"),
    "response": ("response", "output", "answer", "completion", "reply", "generation", "result"),
}
SHOWN = 12
EMPTY = {"logs.db row": "llm's logs.db with no call logged", "CSV row": "a CSV header and no rows"}


def _guess(fields: Sequence[str], names: Sequence[str], taken: set[str]) -> str | None:
    lower = {f.lower(): f for f in fields if f not in taken}
    for name in names:  # an exact name first, then a field that contains it (user_question, llm_model)
        if name in lower:
            return lower[name]
    return next((f for name in names for low, f in lower.items() if name in low), None)


def suggest_map(fields: Sequence[str]) -> str:
    """A `--map` for these fields: the likely prompt, model and response columns."""
    taken: set[str] = set()
    parts = []
    for key in ("prompt", "model", "response"):
        col = _guess(fields, GUESSES[key], taken)
        if col is not None:
            taken.add(col)
            parts.append(f"{key}={col}")
        elif key != "response":
            parts.append(f"{key}=COLUMN" if key == "prompt" else "model='MODEL-NAME'")
    return ",".join(parts)


def nearest(fields: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """(format name, its fields missing here) of the known format whose fields these overlap most."""
    seen = set(fields)
    best, score = None, 0.0
    for fmt in FORMAT_LIST:
        if fmt.fields:
            s = len(seen & set(fmt.fields)) / len(fmt.fields)
            if s > score:
                best, score = fmt, s
    if best is None or score < 0.5:
        return None
    return best.name, tuple(f for f in best.fields if f not in seen)


def nothing_read(path: str, lines: int, fields: Sequence[str], reasons: Counter[str], kind: str = "") -> str:
    """The one-line error for a file that gave no record."""
    if not lines:
        return f"{path}: nothing to read ({EMPTY.get(kind, 'empty file')})"
    top = "; ".join(f"{n:,} x {r}" for r, n in reasons.most_common(2))
    msg = f"{path}: no record could be read from {lines:,} {kind or 'line'}(s) ({top})"
    if fields:
        msg += f"; its first records have the fields {', '.join(list(fields)[:SHOWN])}" + (
            ", ..." if len(fields) > SHOWN else "")
        near = nearest(fields)
        if near:
            name, missing = near
            msg += f"; the nearest known format is {name}" + (
                f" (missing {', '.join(missing)})" if missing else "")
        msg += f"; to read it as it is: --map {suggest_map(fields)}"
    return msg
