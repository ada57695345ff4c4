"""The one place that imports litellm: lazily, offline-safe, quiet, with its own retries and cache off."""

from __future__ import annotations

import logging
import os
import warnings
from functools import cache
from types import ModuleType


@cache
def litellm() -> ModuleType:
    """Import litellm on first use (it takes seconds) with the bundled price map and no telemetry."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    # pydantic's note about litellm's own TypedDicts, printed when litellm builds them (not tiertool's concern)
    # ("Item 'x' ... is using" for one item, "Items 'x', 'y' ... are using" for several)
    warnings.filterwarnings("ignore", message=r"Items? .* `ReadOnly` qualifier", category=UserWarning)
    # litellm's afile_content (1.110.2) builds one coroutine it never awaits beside the one it does: no request is
    # lost or repeated, only Python's warning about it would reach the user's terminal
    warnings.filterwarnings("ignore", message=r"coroutine '.*afile_content' was never awaited", category=RuntimeWarning)
    import litellm as _litellm

    _litellm.suppress_debug_info = True
    _litellm.telemetry = False
    _litellm.num_retries = 0  # tiertool retries with tenacity, where it can see each attempt
    _litellm.cache = None
    _litellm.drop_params = True
    _litellm.disable_hf_tokenizer_download = True  # token counts come from the installed package, not the network
    # tiertool reports every failure itself, once; litellm's own log lines (e.g. its background logging worker
    # complaining when a second audit round starts a new event loop) would only be noise on the user's terminal.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return _litellm
