"""A guarantee per real sub-population, so that a weak sub-task cannot ride on a strong one.

Every decision is per task type, but a task type can hold sub-populations a router tells apart before sending:
prompt templates inside a tagged task, tag sets, bands of prompt length. When the cheaper tier's pass rate
differs between them, the task's pooled pass rate can clear the bar while one part of it fails.

The check, per (task type, cheaper tier), beside the task's own test (rounds.py):
- Candidate parts are fixed from the task's sample before any outcome (`candidates`): each template (for a
  tagged task; an inferred one is a single template already), tag set and length band (tertiles of the
  sample's input tokens) holding at least MIN_SHARE of the sample and MIN_PART requests; a feature's smaller
  levels pool into "other".
- After each look, a part is *separated* when its pass rate so far is below the rest of the task's: one-sided
  Fisher exact test, p <= SCREEN_P. The task's own test may prove only once every part has MIN_SEEN outcomes,
  and when it proves, every part whose pass rate so far is below the target is separated as well.
- A separated part gets its own anytime-valid test (sequential.py) at the task's level, on the part's samples
  scored *after* it was separated. The task moves to a tier only when its own test and every part separated
  on that tier are proven (an intersection-union test).

Why this stays inside the audit's family-wise error budget:
- The task's own test is unchanged and the check only adds conditions to a move, so the chance of any wrong
  move of a task type stays at most 1 - confidence, as without it.
- A part's test reads only samples scored after the decision to separate it, which was taken on earlier ones:
  given that decision, they are a fresh random sample of the part, so its anytime-valid test proves a part
  whose pass rate is below the target with chance at most the task's level, whenever it was separated. The
  first below-target part separated must be proven for the task to move, so P(the task moves while a part
  separated for it is below the target) is at most the task's level too: an intersection-union test needs
  no share of alpha beyond the task's own, so the family's budget is not spent twice.
- Not covered: a part never separated (a difference too small, or a part too small, for the screen to see)
  has only the task's pooled guarantee. `benchmarks/bench_untagged.py` measures what that leaves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..ingest.tasktype import templates_within
from ..records import INFERRED_SOURCES, PartTest, Request
from .sequential import futile, log_evidence_above, p_value

MIN_SHARE = 0.1  # a part holds at least this share of its task's sample ...
MIN_PART = 10  # ... and this many sampled requests
MIN_SEEN = 20  # outcomes of each part the screen sees (or all it has) before its task may move
SCREEN_P = 0.01  # one-sided Fisher exact p-value that separates a part from the rest of its task ...
MOVE_P = 0.05  # ... and the looser one when the task as a whole proves the bar: a move is at stake
FUTILITY_ALPHA = 0.05  # a part shown below the target at this level keeps its task on the reference
LABEL = 90  # characters of a template's text shown as a part's name


@dataclass(frozen=True)
class Part:
    """A candidate sub-population of one task type's sample, fixed before any outcome."""

    feature: str  # template | tags | length
    label: str  # what a router sees: the template's fixed text, the tag set, the band of input tokens
    members: frozenset[str]  # ids of the sampled requests in it


def candidates(sample: Sequence[Request]) -> list[Part]:
    """The parts of a task's sample by each visible feature, largest first within a feature."""
    n = len(sample)
    least = max(MIN_PART, math.ceil(MIN_SHARE * n))
    out: list[Part] = []
    if sample and not all(r.task_source in INFERRED_SOURCES for r in sample):
        within = templates_within(sample, least)
        out += _levels("template", {r.id: _short(within.get(r.id, "(no template)")) for r in sample}, least)
    out += _levels("tags", {r.id: _tags(r) for r in sample}, least)
    return out + _bands(sample, least)


def _levels(feature: str, level: dict[str, str], least: int) -> list[Part]:
    """One part per level with at least `least` requests, the rest pooled in "other"; none when only one."""
    by: dict[str, set[str]] = {}
    for rid, value in level.items():
        by.setdefault(value, set()).add(rid)
    big = sorted((v for v in by if len(by[v]) >= least), key=lambda v: (-len(by[v]), v))
    rest = frozenset(rid for v in by if v not in big for rid in by[v])
    parts = [Part(feature, v, frozenset(by[v])) for v in big]
    if len(rest) >= least:
        parts.append(Part(feature, "other", rest))
    return parts if len(parts) > 1 else []


def _tags(req: Request) -> str:
    """The request's tags besides its task key (and the proxy's own User-Agent and default entries)."""
    tags = sorted(t for t in req.tags if not t.startswith(("task:", "User-Agent")) and t != "default")
    return ", ".join(tags) or "(no other tag)"


def _bands(sample: Sequence[Request], least: int) -> list[Part]:
    """Tertiles of input tokens, when each band holds `least` requests (ties can make them uneven)."""
    tokens = sorted(r.input_tokens for r in sample)
    if len(tokens) < 3 * least:
        return []
    lo, hi = tokens[len(tokens) // 3], tokens[2 * len(tokens) // 3]
    bands = [(f"input tokens < {lo:,}", lambda t: t < lo), (f"input tokens {lo:,}-{hi - 1:,}", lambda t: lo <= t < hi),
             (f"input tokens >= {hi:,}", lambda t: t >= hi)]
    parts = [Part("length", label, frozenset(r.id for r in sample if inside(r.input_tokens)))
             for label, inside in bands]
    return parts if all(len(p.members) >= least for p in parts) else []


def _short(text: str) -> str:
    return text if len(text) <= LABEL else text[:LABEL - 1] + "…"


@dataclass
class _Separated:
    part: Part
    share: float
    reason: str
    since: int  # the part's samples scored before it was separated: not in its test
    looks: list[tuple[int, int]] = field(default_factory=list)

    def add(self, outcomes: list[bool]) -> None:
        if outcomes:
            k, n = self.looks[-1] if self.looks else (0, 0)
            self.looks.append((k + sum(outcomes), n + len(outcomes)))


class SubPopulations:
    """The check for one audit: candidate parts per task, the parts separated per (task, tier), their tests.

    The audit feeds each look's outcomes (`record`) and asks, before it calls a task's test proven, whether a
    separated part still stands in the way (`blocking`)."""

    def __init__(self, samples: Mapping[str, Sequence[Request]], target: float) -> None:
        self.target = target
        self.parts = {task: candidates(reqs) for task, reqs in samples.items()}
        self._size = {task: len(reqs) for task, reqs in samples.items()}
        self._seen: dict[tuple[str, str], dict[str, bool]] = {}
        self._separated: dict[tuple[str, str], list[_Separated]] = {}

    def record(self, task: str, tier: str, outcomes: Iterable[tuple[str, bool]]) -> None:
        """One look's new (request id, passed) on a tier: separated parts' tests take them first, then the
        screen looks at everything so far and may separate more parts (whose tests start with the next look)."""
        new = list(outcomes)
        separated = self._separated.setdefault((task, tier), [])
        for s in separated:
            s.add([ok for rid, ok in new if rid in s.part.members])
        seen = self._seen.setdefault((task, tier), {})
        seen.update(new)
        self._separate(task, tier, lambda part: self._screen(part, seen))

    def ready(self, task: str, tier: str) -> bool:
        """Whether the screen has seen MIN_SEEN outcomes of every candidate part on this tier (or all there are):
        the task's own proof waits for it, so that a part cannot go unseen because the whole proved quickly."""
        seen = self._seen.get((task, tier), {})
        return all(sum(rid in seen for rid in part.members) >= min(MIN_SEEN, len(part.members))
                   for part in self.parts.get(task, ()))

    def confirm(self, task: str, tier: str) -> None:
        """When the task's own test proves: also separate each part whose pass rate so far is below the target or
        below the rest's at MOVE_P (a looser screen, since a move is at stake; a part separated wrongly costs
        only its own proof)."""
        seen = self._seen.get((task, tier), {})
        self._separate(task, tier, lambda part: self._screen(part, seen, loose=True))

    def _separate(self, task: str, tier: str, why_of: Callable[[Part], str | None]) -> None:
        separated = self._separated.setdefault((task, tier), [])
        done = {s.part for s in separated}
        seen = self._seen.get((task, tier), {})
        for part in self.parts.get(task, ()):
            if part not in done and (why := why_of(part)):
                n_in = sum(rid in part.members for rid in seen)
                separated.append(_Separated(part, len(part.members) / self._size[task], why, n_in))

    def _screen(self, part: Part, seen: dict[str, bool], loose: bool = False) -> str | None:
        """Why the part is separated: its pass rate so far is below the rest's (one-sided Fisher exact test at
        SCREEN_P, or MOVE_P when `loose`), or, `loose`, below the target."""
        k_in = n_in = k_out = n_out = 0
        for rid, ok in seen.items():
            if rid in part.members:
                k_in, n_in = k_in + ok, n_in + 1
            else:
                k_out, n_out = k_out + ok, n_out + 1
        if not n_in or not n_out:
            return None
        counts = f"passed {k_in}/{n_in} ({k_in / n_in:.2f}) against {k_out}/{n_out} ({k_out / n_out:.2f}) for the rest"
        if loose and k_in < self.target * n_in:
            return f"{counts}, below the target {self.target:g} when the task as a whole proved it"
        if n_in < MIN_PART or n_out < MIN_PART or k_in * n_out >= k_out * n_in:
            return None
        from scipy.stats import hypergeom

        p = float(hypergeom.cdf(k_in, n_in + n_out, k_in + k_out, n_in))
        return f"{counts} of the task (one-sided Fisher exact p = {p:.2g})" if p <= (MOVE_P if loose else SCREEN_P) \
            else None

    def blocking(self, task: str, tier: str, alpha: float) -> PartTest | None:
        """The first part separated on this tier whose own test is not proven at `alpha` (its state says
        whether it still can be: open, or futile / capped), or None when nothing stands in the way."""
        for test in self.tests(task, tier, alpha):
            if test.state != "proven":
                return test
        return None

    def tests(self, task: str, tier: str, alpha: float) -> list[PartTest]:
        """The separated parts' tests on this tier, as they stand."""
        seen = self._seen.get((task, tier), {})
        out = []
        for s in self._separated.get((task, tier), []):
            looks = tuple(s.looks)
            k, n = looks[-1] if looks else (0, 0)
            left = sum(rid not in seen for rid in s.part.members)
            if looks and p_value(looks, self.target) <= alpha:
                state = "proven"
            elif looks and futile(looks, self.target, FUTILITY_ALPHA):
                state = "futile"
            elif log_evidence_above(k + left, n + left, self.target) < math.log(1.0 / alpha):
                state = "capped"  # even all of its remaining samples passing could not prove it
            else:
                state = "open"
            out.append(PartTest(task, tier, s.part.feature, s.part.label, round(s.share, 4), s.reason, s.since,
                                state, looks))
        return out

    def all_tests(self, alpha: float) -> tuple[PartTest, ...]:
        return tuple(t for task, tier in self._separated for t in self.tests(task, tier, alpha))

