"""`tool_call`: an answer that calls tools passes when it calls the same functions with equal arguments.

Arguments are compared as JSON values once their strings are parsed (1 and 1.0 are equal, "1" and 1 are not),
with per-argument numeric tolerance, string folds and ignored paths; calls made in parallel are a multiset,
matched whatever their order (a maximum matching, so tolerances never depend on the order either). The calls'
ids and any text beside the calls are not compared. A text answer where the reference called tools fails, and
so do tool calls where the reference answered text; a text answer to a text reference is scored by `text:`
(default: the scorer `auto` picks from the task's text reference answers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ..config.scorers import AutoSpec, ToolCallSpec
from ..records import Call, Message, Score
from .base import Reference, Scorer, ScoringContext, arguments, call_name, clip, normalise
from .registry import ScorerEnv

Path = tuple[str, ...]  # function name, then argument keys and list indices


def _matches(patterns: Sequence[str], path: Path) -> str | None:
    """The first pattern naming this path, part by part (each part a glob)."""
    for p in patterns:
        parts = p.split(".")
        if len(parts) == len(path) and all(fnmatchcase(a, b) for a, b in zip(path, parts, strict=True)):
            return p
    return None


@dataclass(frozen=True)
class ToolCalls(Scorer):
    text: Scorer  # text answers to text references
    tolerance: tuple[tuple[str, float], ...] = ()
    folds: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignore: tuple[str, ...] = ()
    name: str = "tool_call"

    @classmethod
    def from_spec(cls, spec: ToolCallSpec, env: ScorerEnv) -> ToolCalls:
        text = env.build(spec.text if spec.text is not None else AutoSpec(scorer="auto"))
        return cls(text, tuple(spec.tolerance.items()), tuple(spec.normalise.items()), spec.ignore)

    def prepare(self, references: list[Reference]) -> None:
        texts = [r for r in references if not r.tool_calls]
        if texts:
            self.text.prepare(texts)

    def check(self, task: str) -> None:
        self.text.check(task)

    def calls(self, ctx: ScoringContext) -> list[Call]:
        return self.text.calls(ctx) if not (ctx.candidate_calls or ctx.target_calls) else []

    def score(self, ctx: ScoringContext) -> Score:
        got, want = ctx.candidate_calls, ctx.target_calls
        if not got and not want:
            s = self.text.score(ctx)
            return Score(s.value, s.passed, f"text as the reference: {self.text.name}: {s.reason}")
        if not want:
            return Score(0.0, False, f"called {_names(got)} where the reference answered text")
        if not got:
            return Score(0.0, False, f"answered text where the reference called {_names(want)}: "
                                     f"{clip(ctx.candidate)!r}")
        parsed: list[list[tuple[str, Any]]] = []
        for side, calls in (("answer", got), ("reference", want)):
            parsed.append([])
            for call in calls:
                try:
                    parsed[-1].append((call_name(call), arguments(call)))
                except ValueError as e:
                    raw = (call.get("function") or {}).get("arguments")
                    return Score(0.0, False, f"{side}'s call {call_name(call)}: arguments are not JSON ({e}): "
                                             f"{clip(str(raw))!r}")
        return self._match(parsed[0], parsed[1])

    def _match(self, got: list[tuple[str, Any]], want: list[tuple[str, Any]]) -> Score:
        """Pair the calls so that as many as possible are equal; the rest say what differs."""
        import numpy as np
        from scipy.optimize import linear_sum_assignment

        diff = [[self._differs(g, w) for w in want] for g in got]
        rows, cols = linear_sum_assignment(np.array([[d is not None for d in row] for row in diff], dtype=float))
        equal = {(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if diff[i][j] is None}
        value = len(equal) / max(len(got), len(want))
        if len(equal) == len(got) == len(want):
            return Score(1.0, True, f"same calls: {', '.join(n for n, _ in want)}")
        left_g = [i for i in range(len(got)) if all(i != a for a, _ in equal)]
        left_w = [j for j in range(len(want)) if all(j != b for _, b in equal)]
        problems = []
        for j in left_w:
            same = next((i for i in left_g if got[i][0] == want[j][0]), None)
            if same is None:
                problems.append(f"missing call {want[j][0]}")
            else:
                left_g.remove(same)
                problems.append(f"{want[j][0]}: {diff[same][j]}")
        problems += [f"extra call {got[i][0]}" for i in left_g]
        return Score(value, False, "; ".join(problems[:4]) + (" ..." if len(problems) > 4 else ""))

    def _differs(self, got: tuple[str, Any], want: tuple[str, Any]) -> str | None:
        if got[0] != want[0]:
            return f"called {got[0]}, not {want[0]}"
        return self._compare(got[1], want[1], (got[0],))

    def _compare(self, a: Any, b: Any, path: Path) -> str | None:
        """Where two argument values first differ (dotted path and both values), or None when equal."""
        if _matches(self.ignore, path):
            return None
        where = ".".join(path[1:]) or "arguments"
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if _matches(self.ignore, (*path, k)):
                    continue
                if k not in a or k not in b:
                    return f"argument {'.'.join((*path[1:], k))} {'missing' if k not in a else 'not expected'}"
                found = self._compare(a[k], b[k], (*path, k))
                if found:
                    return found
            return None
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return f"argument {where}: {len(a)} items, not {len(b)}"
            return next((d for i, (x, y) in enumerate(zip(a, b, strict=True))
                         if (d := self._compare(x, y, (*path, str(i))))), None)
        if _number(a) and _number(b):
            tol = dict(self.tolerance).get(_matches([p for p, _ in self.tolerance], path) or "", 0.0)
            same = math.isclose(a, b, rel_tol=0.0, abs_tol=tol)
        elif isinstance(a, str) and isinstance(b, str):
            fold = dict(self.folds).get(_matches([p for p, _ in self.folds], path) or "", ())
            same = _fold(a, fold) == _fold(b, fold)
        else:
            same = a == b and isinstance(a, bool) == isinstance(b, bool)
        return None if same else f"argument {where}: {clip(repr(a))} != {clip(repr(b))}"


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fold(text: str, fold: tuple[str, ...]) -> str:
    return normalise(text, "case" in fold, "whitespace" in fold, "punctuation" in fold)


def _names(calls: Sequence[Message]) -> str:
    return ", ".join(call_name(c) or "?" for c in calls)
