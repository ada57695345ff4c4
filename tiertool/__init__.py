"""tiertool: prove which LLM task types can move to a cheaper model, and what that saves.

The public API, which the CLI uses alone (README "Python API")::

    import tiertool
    config = tiertool.load_config("tiertool.yaml")
    tiertool.run_audit(["logs.jsonl"], config, ".tiertool")
    audit = tiertool.load_audit(".tiertool")
    rec = tiertool.recommend(audit)
    print(tiertool.render_report(tiertool.build_report(audit), "md"))

Names are imported on first use, so `import tiertool` (and `tiertool --help`) loads no heavy library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {  # public name -> the module (under tiertool) that defines it
    "load_config": "config", "parse_config": "config", "Config": "config", "load_tiers": "config.assignment",
    "read_logs": "ingest", "scan": "ingest", "Traffic": "ingest",
    "run_audit": "commands.audit", "AuditSummary": "commands.audit",
    "load_audit": "store", "Audit": "store",
    "recommend": "decide.recommendation", "Recommendation": "decide.recommendation",
    "write_tiers": "commands.recommend", "write_litellm_config": "commands.litellm_config",
    "proxy_files": "commands.litellm_config", "ProxyFiles": "commands.litellm_config",
    "build_report": "report.build", "render_report": "report.render", "gate_lines": "report.gates",
    "Report": "report.model",
    "monitor": "commands.monitor", "MonitorResult": "commands.monitor",
    "inspect": "commands.inspect", "render_inspection": "commands.inspect",
    "starter_config": "commands.init", "Starter": "commands.init",
    "make_progress": "replay", "PlanDeclined": "replay",
    "load_gate": "gate", "Gate": "gate",
}
__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from .commands.audit import AuditSummary as AuditSummary
    from .commands.audit import run_audit as run_audit
    from .commands.init import Starter as Starter
    from .commands.init import starter_config as starter_config
    from .commands.inspect import inspect as inspect
    from .commands.inspect import render_inspection as render_inspection
    from .commands.litellm_config import ProxyFiles as ProxyFiles
    from .commands.litellm_config import proxy_files as proxy_files
    from .commands.litellm_config import write_litellm_config as write_litellm_config
    from .commands.monitor import MonitorResult as MonitorResult
    from .commands.monitor import monitor as monitor
    from .commands.recommend import write_tiers as write_tiers
    from .config import Config as Config
    from .config import load_config as load_config
    from .config import parse_config as parse_config
    from .config.assignment import load_tiers as load_tiers
    from .decide.recommendation import Recommendation as Recommendation
    from .decide.recommendation import recommend as recommend
    from .gate import Gate as Gate
    from .gate import load_gate as load_gate
    from .ingest import Traffic as Traffic
    from .ingest import read_logs as read_logs
    from .ingest import scan as scan
    from .replay import PlanDeclined as PlanDeclined
    from .replay import make_progress as make_progress
    from .report.build import build_report as build_report
    from .report.gates import gate_lines as gate_lines
    from .report.model import Report as Report
    from .report.render import render_report as render_report
    from .store import Audit as Audit
    from .store import load_audit as load_audit


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'tiertool' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
