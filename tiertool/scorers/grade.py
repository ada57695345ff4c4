"""Grade one answer of one request: imported label first, else the task's scorer against the ground truth
(`expected`) when there is one, else against the reference answer. Judge calls go through the audit's Replayer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ReplayError
from ..records import Request, Score
from .base import Unscorable
from .labels import Labels


def _walk(spec: Any) -> Iterable[Any]:
    yield spec
    for child in getattr(spec, "scorers", ()) or ():
        yield from _walk(child)
    if getattr(spec, "judge", None) is not None:
        yield spec.judge


class Grader:
    def __init__(self, config: Any, labels: Labels | None = None, offline: bool = False) -> None:
        self.config = config
        self.labels = labels or Labels()
        self.offline = offline
        self.scorers: dict[str, Any] = {}
        self.choices: dict[str, dict[str, str]] = {}  # task -> {scorer, reason}
        self.replayer: Any = None  # set by the audit once replay starts; judge calls go through it
        self.error: str | None = None  # the judge could not be called at all

    def check(self, tasks: Iterable[str]) -> None:
        """Build every scorer the tasks need and prove each can run, before any replay money is spent."""
        from ..config.scorers import AutoSpec, EmbeddingSpec, JudgeSpec
        from . import make_scorer
        from .embedding import check_installed

        judges = []
        for task in tasks:
            spec = self.config.spec_for(task)
            for part in _walk(spec):
                if isinstance(part, EmbeddingSpec):
                    check_installed(task, part.model)
                if isinstance(part, JudgeSpec):
                    judges.append(make_scorer(part, self.config.base_dir, self.config.tiers))
            if not isinstance(spec, AutoSpec):
                self.scorers[task] = make_scorer(spec, self.config.base_dir, self.config.tiers)
                where = task if task in self.config.tasks else "default"
                self.choices[task] = {"scorer": spec.scorer, "reason": f"set in tiertool.yaml (tasks.{where})"}
        if not self.offline:
            for judge in {j.tier.name: j for j in judges}.values():
                judge.check()

    def choose(self, task: str, references: list[str]) -> None:
        """Resolve `auto` for a task from its reference answers (no-op when the config names a scorer)."""
        if task in self.scorers:
            return
        from . import make_scorer
        from .auto import choose

        spec, reason = choose(self.config.spec_for(task), references)
        self.scorers[task] = make_scorer(spec, self.config.base_dir, self.config.tiers)
        self.choices[task] = {"scorer": spec.scorer, "reason": reason + f" (override with tasks.{task}.scorer)"}

    def truth(self, req: Request) -> str | None:
        """The request's ground-truth answer, from the labels file or the log record."""
        if req.id in self.labels.expected:
            self.labels.used.add(req.id)
            return self.labels.expected[req.id]
        return getattr(req, "expected", None)

    def prefetch(self, items: Iterable[tuple[Request, str, str]]) -> None:
        """Send the judge calls for many (request, candidate, reference) at once (cached, concurrent)."""
        from .combine import Combined
        from .judge import Judge

        calls = []
        for req, candidate, reference in items:
            self.choose(req.task, [reference])
            stack = [self.scorers[req.task]]
            while stack:
                s = stack.pop()
                if isinstance(s, Judge):
                    calls.extend(s.calls(req.messages, candidate, reference))
                elif isinstance(s, Combined):
                    stack.extend(s.scorers)
        if calls and self.replayer is not None:
            try:
                self.replayer.run(calls)
            except ReplayError as e:  # answers stay unscored; the audit reports why
                self.error = f"judge: {e}"

    def score(self, req: Request, tier: str, reference: str, candidate: str, reference_tier: bool = False) -> Score:
        """Score one answer; raises Unscorable when it cannot be scored (it is then stored unscored)."""
        label = self.labels.grade(req.id, tier, reference_tier)
        if label is not None:
            return label
        self.choose(req.task, [reference])
        s = self._apply(self.scorers[req.task], req, candidate, reference)
        return Score(s.value, s.passed, "vs expected: " + s.reason) if self.truth(req) is not None else s

    def _apply(self, scorer: Any, req: Request, candidate: str, reference: str) -> Score:
        from .combine import Combined
        from .judge import Judge

        if isinstance(scorer, Combined):
            return scorer.combine([self._apply(s, req, candidate, reference) for s in scorer.scorers])
        if isinstance(scorer, Judge):
            first, second = scorer.calls(req.messages, candidate, reference)
            answers = self.replayer.answers if self.replayer is not None else {}
            if (first.key not in answers or second.key not in answers) and self.replayer is not None:
                try:
                    self.replayer.run([first, second])
                except ReplayError as e:
                    raise Unscorable(f"judge: {e}") from None
            return scorer.decide(answers.get(first.key), answers.get(second.key))
        return scorer(candidate, reference)


def grade_results(plan: list[tuple[Request, Any, Any]], resolved: dict[tuple[str, str], Any], ref_tier: Any,
                  grader: Grader) -> list[Any]:
    """One stored Result per sampled request and cheaper tier (plus the reference tier's own, against the
    ground truth when the request has one). `resolved` maps (request id, tier name) to its Answer or None."""
    from ..store import Result

    reqs = {req.id: req for req, _, _ in plan}
    tiers = list({tier.name: tier for _, tier, _ in plan}.values())
    refs: dict[str, list[str]] = {}
    for req in reqs.values():
        ref = resolved.get((req.id, ref_tier.name))
        if ref is not None and ref.text is not None:
            refs.setdefault(req.task, []).append(ref.text)
    for task, texts in refs.items():
        grader.choose(task, texts)
    todo: list[tuple[Request, Any, Any, str | None, str]] = []  # req, tier, answer, target text, why-missing
    for req in reqs.values():
        truth = grader.truth(req)
        ref = resolved.get((req.id, ref_tier.name))
        target = truth if truth is not None else (ref.text if ref else None)
        missing = (ref.error if ref and ref.error else "no reference answer (offline and not cached)")
        for tier in tiers:
            if tier.name == ref_tier.name and truth is None:
                continue
            todo.append((req, tier, resolved.get((req.id, tier.name)), target, missing))
    grader.prefetch((req, got.text, target) for req, tier, got, target, _why in todo
                    if target is not None and got is not None and got.text is not None
                    and grader.labels.grade(req.id, tier.name, tier.name == ref_tier.name) is None)
    out = []
    for req, tier, got, target, missing in todo:
        base = dict(request_id=req.id, source=req.source, task=req.task, tier=tier.name, model=tier.model,
                    reference=target, answer=got.text if got else None, origin=got.origin if got else "missing")
        if target is None:
            out.append(Result(**base, value=None, passed=None, reason=f"unscored: {missing}"))
        elif got is None:
            out.append(Result(**base, value=None, passed=None, reason="unscored: no answer (offline and not cached)"))
        elif got.text is None and got.origin == "unsent":  # offline, over the budget, or its tier stopped
            out.append(Result(**base, value=None, passed=None, reason=f"unscored: {got.error}"))
        elif got.text is None:
            out.append(Result(**base, value=0.0, passed=False, reason="call failed", error=got.error))
        else:
            try:
                s = grader.score(req, tier.name, target, got.text, tier.name == ref_tier.name)
            except Unscorable as e:
                out.append(Result(**base, value=None, passed=None, reason=f"unscored: {e}"))
                continue
            out.append(Result(**base, value=s.value, passed=s.passed, reason=s.reason))
    return out
