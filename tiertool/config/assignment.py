"""tiers.yaml: the assignment `tiertool recommend` writes and a team commits; `report --check` and `monitor`
read it back as task -> tier name."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .yamlfile import read_yaml


def load_tiers(path: str | Path) -> dict[str, str]:
    """task -> tier name, from a tiers.yaml written by `tiertool recommend`."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: tiers file not found; run `tiertool recommend` first")
    try:
        doc = read_yaml(p)
        return {task: str(v["tier"]) for task, v in doc["tasks"].items()}
    except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise InputError(f"{p}: not a tiers file (expected tasks: {{<task>: {{tier: ...}}}}): {e}") from None
