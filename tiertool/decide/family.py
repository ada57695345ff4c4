"""The family of tests an audit runs, fixed from replayable traffic before any outcome is seen: every (task
type, cheaper tier) test is held to a Bonferroni level, so the chance of *any* wrong downgrade across the audit
stays at most 1 - `quality.confidence`."""

from __future__ import annotations

from ..config import Config
from ..records import Family
from .sequential import all_pass_needed, fixed_needed


def family(available: dict[str, int], tiers: int, confidence: float, target: float, cap: int,
           sequential: bool = True) -> Family:
    """Fix the family before seeing any outcome: a task whose traffic cannot prove the target even if every
    sample passed is left out (it stays on the reference), so it does not dilute the others' level."""
    by_traffic = sorted(available, key=lambda t: (-available[t], t))
    for size in range(len(by_traffic), 0, -1):  # the largest family whose every member could be proven
        alpha = (1.0 - confidence) / (size * tiers)
        needed = all_pass_needed(target, alpha) if sequential else fixed_needed(target, alpha)
        if min(available[by_traffic[size - 1]], cap) >= needed:
            bigger = (1.0 - confidence) / ((size + 1) * tiers)
            to_join = all_pass_needed(target, bigger) if sequential else fixed_needed(target, bigger)
            return Family(tuple(sorted(by_traffic[:size])), tiers, alpha, needed, to_join)
    alpha = (1.0 - confidence) / tiers
    needed = all_pass_needed(target, alpha) if sequential else fixed_needed(target, alpha)
    return Family((), tiers, alpha, needed, needed)


def family_for(replayable: dict[str, int], config: Config) -> Family:
    """The audit's family, from each task type's replayable traffic and the config's bar and sampling."""
    s = config.sample
    return family(replayable, len(config.tiers) - 1, config.quality.confidence, config.quality.target, s.cap,
                  s.sequential)
