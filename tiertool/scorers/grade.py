"""Grade answers for the audit and `monitor` alike: an imported label first, else the task's scorer against the
ground truth (`expected`) when there is one, else against the reference answer. Model calls a scorer needs (the
judge) go through the `Caller` the Grader is given, many at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ReplayError
from ..records import UNSENT, Answer, Message, Request, Result, Score
from ..store import ScorerChoice
from .auto import NEEDS_JUDGE, Auto, choose_for
from .base import Caller, Reference, Scorer, ScoringContext, Unscorable, shown
from .labels import Labels
from .registry import ScorerEnv

if TYPE_CHECKING:
    from ..config import Config, Tier

Item = tuple[Request, "Tier"]  # one answer to grade: the request and the tier that answered it


class Grader:
    def __init__(self, config: Config, labels: Labels | None = None, caller: Caller | None = None) -> None:
        self.config = config
        self.labels = labels or Labels()
        self.env = ScorerEnv(config.base_dir, config.tiers, caller, config.sample.seed)
        self.scorers: dict[str, Scorer] = {}  # task -> its scorer, built once
        self.error: str | None = None  # the judge could not be called at all
        self.graded: Counter[str] = Counter()  # task -> cheaper-tier answers graded ...
        self.by_label: Counter[str] = Counter()  # ... and how many of them by an imported label

    def check(self, tasks: Iterable[str]) -> None:
        """Build every scorer the tasks need and prove each can run, before any replay money is spent."""
        for task in tasks:
            self.scorer(task).check(task)

    def open_ended(self, task: str, references: list[Reference]) -> bool:
        """Whether `auto` marks the task "needs a judge or labels" on these reference answers (the log's own, at
        hand before any call): then its choice is made now, so no sample is spent on a task it cannot move."""
        scorer = self.scorer(task)
        if not isinstance(scorer, Auto) or scorer.chosen is not None or not references:
            return False
        if NEEDS_JUDGE not in choose_for(scorer.spec, references)[1]:
            return False
        scorer.prepare(references)
        return True

    def scorer(self, task: str) -> Scorer:
        if task not in self.scorers:
            self.scorers[task] = self.env.build(self.config.spec_for(task))
        return self.scorers[task]

    @property
    def choices(self) -> dict[str, ScorerChoice]:
        """task -> the scorer it is graded with and why (what `auto` picked, once it has seen answers); imported
        labels where they graded the task's samples."""
        out = {}
        for task, scorer in self.scorers.items():
            labelled, graded = self.by_label[task], self.graded[task]
            described = scorer.describe()
            if labelled and labelled == graded:
                out[task] = ScorerChoice(scorer="imported labels", reason=f"every graded sample ({graded}) had an "
                                         "imported label (--labels); no answer was scored",
                                         checked=described[0] if described else None)
                continue
            if described is None:
                continue
            name, why = described
            where = task if task in self.config.tasks else "default"
            why = f"set in tiertool.yaml (tasks.{where})" if why is None else \
                f"{why} (override with tasks.{task}.scorer)"
            out[task] = ScorerChoice(scorer=name, reason=why, needs_judge=scorer.needs_judge) if not labelled \
                else ScorerChoice(scorer=f"imported labels + {name}", needs_judge=scorer.needs_judge, checked=name,
                                  reason=f"{labelled} of {graded} graded samples by imported labels (--labels); "
                                  f"the rest by {name}: {why}")
        return out

    def truth(self, req: Request) -> str | None:
        """The request's ground-truth answer, from the labels file or the log record."""
        if req.id in self.labels.expected:
            self.labels.used.add(req.id)
            return self.labels.expected[req.id]
        return req.expected

    def grade(self, items: Sequence[Item], answers: Mapping[tuple[str, str], Answer | None], reference: Tier
              ) -> list[Result]:
        """One Result per item, a sampled request and a cheaper tier (plus the reference tier's own, against the
        ground truth when the request has one). `answers` maps (request source, tier name) to its Answer or None:
        the source (file:line), because a log may repeat a request id and its lines must stay apart."""
        reqs: dict[str, tuple[Request, dict[str, Tier]]] = {}
        for req, tier in items:  # each request with the tiers it was asked of (not every tier of the round)
            reqs.setdefault(req.source, (req, {}))[1][tier.name] = tier
        todo: list[_Todo] = []
        for req, tiers in reqs.values():
            truth = self.truth(req)
            ref = answers.get((req.source, reference.name))
            missing = ref.error if ref and ref.error else "no reference answer (offline and not cached)"
            for tier in tiers.values():
                if tier.name != reference.name or truth is not None:
                    todo.append(_Todo(req, tier, answers.get((req.source, tier.name)), ref.text if ref else None,
                                      truth, missing, tier.name == reference.name, ref.tool_calls if ref else ()))
        self._prepare(todo)
        self._prefetch([t for t in todo if t.context is not None and self._label(t) is None])
        return [self._result(t) for t in todo]

    def _prepare(self, todo: list[_Todo]) -> None:
        """Show each task's scorer its reference answers (`auto` chooses from them; from the bars when none)."""
        seen: dict[str, list[Reference]] = {}
        for t in {t.req.source: t for t in todo}.values():  # one reference answer per request
            if t.reference is not None:
                seen.setdefault(t.req.task, []).append(Reference(t.reference, t.reference_calls))
        for t in todo:
            if t.target is not None and t.req.task not in seen:
                seen[t.req.task] = [Reference(t.target)]
        for task, references in seen.items():
            self.scorer(task).prepare(references)

    def _prefetch(self, todo: list[_Todo]) -> None:
        """Send the model calls of many answers at once (cached, concurrent); a failure leaves them unscored."""
        calls = [call for t in todo if t.context for call in self.scorer(t.req.task).calls(t.context)]
        if calls and self.env.caller is not None:
            try:
                self.env.caller.ask(calls)
            except ReplayError as e:  # answers stay unscored; the audit reports why
                self.error = f"judge: {e}"

    def _label(self, t: _Todo) -> Score | None:
        return self.labels.grade(t.req.id, t.tier.name, t.is_reference)

    def _result(self, t: _Todo) -> Result:
        result = self._grade(t)
        if not t.is_reference and result.passed is not None:
            self.graded[t.req.task] += 1
            self.by_label[t.req.task] += self.labels.has(t.req.id, t.tier.name)
        return result

    def _grade(self, t: _Todo) -> Result:
        got = t.answer
        base: dict[str, Any] = dict(request_id=t.req.id, source=t.req.source, task=t.req.task, tier=t.tier.name,
                    model=t.tier.model, reference=shown(t.target, t.target_calls),
                    answer=shown(got.text, got.tool_calls) if got else None,
                    origin=got.origin if got else "missing")
        label = self._label(t)
        if label is not None:  # a label grades the answer whether or not its text (or a reference) is at hand
            own = self._own_verdict(t.req.task, t.context) if t.context is not None else None
            return Result(**base, value=label.value, passed=label.passed, reason=label.reason, scorer_passed=own)
        if t.target is None:
            return Result(**base, value=None, passed=None, reason=f"unscored: {t.missing}")
        if got is None:
            return Result(**base, value=None, passed=None, reason="unscored: no answer (offline and not cached)")
        if got.text is None and got.origin == UNSENT:  # offline, over the budget, or its tier stopped
            return Result(**base, value=None, passed=None, reason=f"unscored: {got.error}")
        if got.text is None or t.context is None:
            return Result(**base, value=0.0, passed=False, reason="call failed", error=got.error)
        try:
            s = self.scorer(t.req.task).score(t.context)
            drawn = self.scorer(t.req.task).label(t.context)
        except Unscorable as e:  # a drawn sample the judge cannot label is left out with the others
            return Result(**base, value=None, passed=None, reason=f"unscored: {e}")
        if drawn is not None:
            return Result(**base, value=drawn.value, passed=drawn.passed, reason=drawn.reason,
                          scorer_passed=s.passed)
        if t.expected is not None:
            s = Score(s.value, s.passed, "vs expected: " + s.reason)
        return Result(**base, value=s.value, passed=s.passed, reason=s.reason)

    def _own_verdict(self, task: str, ctx: ScoringContext) -> bool | None:
        """What the scorer says of a labelled answer, to check it against the label; None when it would need
        model calls (a judge is checked on answers it scored, not on labelled ones) or cannot score it."""
        scorer = self.scorer(task)
        try:
            return None if scorer.calls(ctx) else scorer.score(ctx).passed
        except Unscorable:
            return None


@dataclass(frozen=True)
class _Todo:
    """One answer to grade, with what it is graded against."""

    req: Request
    tier: Tier
    answer: Answer | None
    reference: str | None  # the reference tier's answer
    expected: str | None  # the ground truth, if any
    missing: str  # why there is no reference answer, if there is none
    is_reference: bool  # the reference tier's own answer (graded only against a ground truth)
    reference_calls: tuple[Message, ...] = ()  # the reference tier's tool calls

    @property
    def target(self) -> str | None:
        return self.expected if self.expected is not None else self.reference

    @property
    def target_calls(self) -> tuple[Message, ...]:
        return () if self.expected is not None else self.reference_calls

    @property
    def context(self) -> ScoringContext | None:
        if self.answer is None or self.answer.text is None or self.target is None:
            return None
        return ScoringContext(self.req, self.answer.text, self.reference, self.expected, self.answer.tool_calls,
                              self.reference_calls)
