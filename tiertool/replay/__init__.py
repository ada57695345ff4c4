"""Replay: send a sample's calls to the tiers (cache first, limits, retries, budget, workers). litellm is
imported in one place only, llm.py."""

from .batch import BatchReplayer
from .cache import Cache
from .carry import carry_check
from .engine import Replayer, ReplayStats
from .plan import Plan, PlanDeclined
from .progress import Progress, make_progress

__all__ = ["BatchReplayer", "Cache", "carry_check", "Plan", "PlanDeclined", "Progress", "ReplayStats", "Replayer",
           "make_progress"]
