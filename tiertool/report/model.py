"""The typed report: README "Report JSON", as pydantic models. `build.py` fills it, every renderer and gate
reads it, and `Report.dump()` is the json format (keys marked optional are left out while they are empty)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    optional: ClassVar[tuple[str, ...]] = ()  # keys left out of the json while they are None

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self.optional:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class TierRow(_Row):
    tier: str
    model: str
    scored: int
    passed: int
    errors: int
    pass_rate: float | None
    lower_bound: float | None
    meets_bar: bool


class AgreementRow(_Row):
    """The scorer against imported labels on the same answers (decide/agreement.py): 95% intervals, the
    kappa one a percentile bootstrap, precision and recall exact (Clopper-Pearson)."""

    optional = ("warning", "ppi_lower_bounds")
    scorer: str  # the scorer set against the labels (the task's scorer where labels did not grade)
    labelled: int
    scorer_pass_rate: float
    label_pass_rate: float
    kappa: float | None
    kappa_interval: list[float] | None
    precision: float | None
    precision_interval: list[float] | None
    recall: float | None
    recall_interval: list[float] | None
    warning: str | None = None
    # with --labels-fraction: per cheaper tier, the prediction-powered lower bound on the labelled pass rate at
    # the audit's confidence (that test alone, not shared in the family)
    ppi_lower_bounds: dict[str, float] | None = None


class PositionRow(_Row):
    """The pairwise judge asked twice with the order swapped: how often its two verdicts disagreed."""

    judged: int
    disagreed: int
    rate: float


class PartRow(_Row):
    """A sub-population of the task tested apart on one tier because its pass rate differed (decide/subpop.py)."""

    tier: str
    feature: str  # template | tags | length
    part: str
    share: float  # of the task's sample
    separated_because: str
    scored: int  # in its own test (samples after it was separated)
    passed: int
    state: str  # proven | open | futile | capped


class TaskRow(_Row):
    optional = ("scorer_reason", "evidence_tier", "more_cost_usd", "subpopulations", "agreement", "judge_position")
    task: str
    requests: int
    share: float
    tier: str
    model: str
    sampled: int
    pass_rate: float  # the chosen tier's (1.0 for the reference)
    lower_bound: float
    scorer: str
    status: str  # moved | kept | not-enough-traffic | undecided | unaudited
    reason: str
    more_samples: int | None  # samples that would settle a low-traffic / undecided task
    current_usd: float | None
    projected_usd: float | None
    tiers: list[TierRow]
    replayable: int
    replayable_share: float
    task_sources: dict[str, int]  # how the task's requests were typed
    cost_by_tier: dict[str, float | None]  # the task's whole log volume on each tier (None: no price)
    scorer_reason: str | None = None  # what `auto` (or the config) chose, and why
    more_cost_usd: float | None = None  # what those samples would cost (sequential audits)
    subpopulations: list[PartRow] | None = None  # parts tested apart; absent when none was
    evidence_tier: str | None = None  # the cheaper tier whose evidence decided: the chosen one, else the best tried
    agreement: AgreementRow | None = None  # only with labels on answers the scorer also scored
    judge_position: PositionRow | None = None  # only for tasks a pairwise judge scored

    @property
    def evidence(self) -> TierRow | None:
        """The evidence that decided the task (a kept task: its best cheaper tier's, and why that failed)."""
        return next((e for e in self.tiers if e.tier == self.evidence_tier), None)


class SavingsRow(_Row):
    current_usd: float
    projected_usd: float
    saved_usd: float
    saved_fraction: float
    period_days: float | None
    monthly_current_usd: float | None
    monthly_projected_usd: float | None
    monthly_saved_usd: float | None
    monthly_saved_interval_usd: list[float] | None  # 95% bootstrap over days; None under 7 days
    sources: dict[str, str]  # task -> where its prices came from
    unpriced_models: list[str]
    oracle_saved_usd: float | None
    oracle_captured: float | None
    audit_cost_usd: float
    break_even_days: float | None


class CascadeRow(_Row):
    try_tier: str = Field(alias="try")
    check: str
    sampled: int
    escalation_rate: float
    quality: float
    quality_lower_bound: float
    expected_cost_usd: float
    reference_cost_usd: float


class Quality(_Row):
    target: float
    confidence: float


class TierName(_Row):
    tier: str
    model: str


class Failure(_Row):
    """A call that failed after its retries."""

    request_id: str
    source: str
    task: str
    tier: str
    error: str | None


class AuditRow(_Row):
    logs: list[str]
    records: int
    skipped: int
    calls: int  # model calls actually sent (cache hits excluded)
    cache_hits: int
    failed: int
    spend_usd: float
    error: str | None
    failures: list[Failure]
    incomplete: str | None = None  # what keeps the evidence partial and how to finish it (store.Audit.incomplete)
    typing: dict[str, int] = {}  # how the log's requests got their task type (as `inspect`): task_source -> n


class Accuracy(_Row):
    tier: str
    scored: int
    passed: int
    accuracy: float


class ReportWarning(_Row):
    kind: str
    task: str | None  # None for audit-wide warnings
    message: str


class Gate(_Row):
    gate: str
    passed: bool
    message: str
    details: list[str] = []


class Example(_Row):
    request_id: str
    source: str
    tier: str
    model: str
    value: float | None
    passed: bool | None
    reason: str
    reference: str | None
    answer: str | None
    error: str | None
    prompt: str | None = None  # read back from the log; None when the log line is gone


class Report(_Row):
    optional = ("reference_accuracy", "examples", "gates")
    tasks: list[TaskRow]
    savings: SavingsRow
    cascade: dict[str, CascadeRow]  # only tasks named under `cascade:`
    quality: Quality
    reference: TierName
    tier_models: dict[str, str]
    audit: AuditRow
    reference_accuracy: dict[str, Accuracy] | None = None  # only with expected answers
    warnings: list[ReportWarning] = []
    examples: dict[str, list[Example]] | None = None  # only with --examples N
    gates: list[Gate] | None = None  # only with --check or a gate option

    def dump(self) -> dict[str, Any]:
        """The json format: stable keys, no timestamps (the same audit always gives the same json)."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def failed(self) -> bool:
        """Whether a CI gate failed (the exit code of `tiertool report`)."""
        return any(not g.passed for g in self.gates or ())
