"""The package's layout is a contract (issue 10): one package per pipeline stage, records that cross a stage in
records.py, no import cycle, no stage importing a later one. This test walks tiertool/ with `ast` and holds
every import (in functions and `if TYPE_CHECKING:` blocks too) to it.

The layers, lowest first; a module may import from its own layer or a lower one:

    errors.py, defaults.py   domain errors with their exit codes; every default defined once
    text.py, limits.py       untrusted text made printable and masked; bounds on untrusted input (sizes,
                             nesting, ranges, linear-time regular expressions)
    config/                  tiertool.yaml (pydantic): tiers, quality, sample, replay, prices, cascade;
                             scorers.py: the scorer options under `tasks:`; assignment.py: tiers.yaml
    records.py               Request, Skipped, Answer, Call (+ call_key), Score, Result, Key, Usage,
                             Family, TestState: the frozen records every stage exchanges
    store.py                 the audit folder: Audit (owns its config), AuditMeta (typed, versioned),
                             results, volume, test states; results_frame() / volume_frame()
    ingest/                  formats and sources (reader.py: read_logs), task typing (tasktype.py),
                             sampling (sample.py), the one pass over traffic (traffic.py: scan -> Traffic)
    pricing/                 prices.py (price map, aliases, overrides), savings.py (projection, oracle)
    replay/                  llm.py (the one litellm door), engine.py (Replayer, the judge's Caller),
                             cache.py, plan.py (+ Budget), ratelimit.py, workers.py, progress.py
    scorers/                 base.py (ScoringContext -> Score, Caller), registry.py (name -> spec + class),
                             text, structured, embedding, judge, combine, auto, labels, grade.py (Grader)
    decide/                  sequential.py (pure statistics), family.py, rounds.py, decisions.py,
                             cascade.py, recommendation.py (Recommendation)
    gate/                    the per-request gate: features, predictor, ltt.py (Learn-then-Test), gatefile.py
                             (Gate, load, route), figures.py; litellm_hook.py (the proxy's pre-call hook)
    report/                  model.py (the typed Report = README "Report JSON"), build.py, facts.py
                             (warnings), gates.py, examples.py, redact.py, render/ (term, md, html, json),
                             templates/
    commands/                audit.py, recommend.py, monitor.py, inspect.py: one entry point per command
    __init__.py, cli.py      the public API (lazy re-exports); the CLI, which imports only that API
                             and errors/defaults
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tiertool"
LAYERS = [("errors", "defaults", "text", "limits"), ("config",), ("records",), ("store",), ("ingest",), ("pricing",),
          ("replay",), ("scorers",), ("decide",), ("gate",), ("report",), ("commands",), ("__init__", "cli")]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}
HEAVY = ("litellm", "pandas", "scipy", "pydantic", "openai", "numpy")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["tiertool", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _under_type_checking(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    return lines


def _imports(name: str) -> list[tuple[str, bool]]:
    """(imported tiertool module, whether it only runs for type checkers) for every import in a module."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _under_type_checking(tree)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out += [(t, node.lineno in typing_only) for t in targets if t.split(".")[0] == "tiertool"]
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def test_every_module_sits_in_a_layer():
    assert {_layer(m) for m in MODULES} <= set(RANK), {_layer(m) for m in MODULES} - set(RANK)


def test_no_stage_imports_a_later_one():
    upward = [f"{m} imports {t} ({_layer(m)} -> {_layer(t)})" for m in MODULES for t, _ in _imports(m)
              if RANK[_layer(t)] > RANK[_layer(m)]]
    assert upward == []


def test_there_is_no_import_cycle():
    """Over the imports that run (type-checking imports never do): a cycle means two modules each need the
    other to be loaded first, the sign of a stage keeping part of another."""
    graph = {m: {t for t, typing_only in _imports(m) if not typing_only and t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_scorers_get_model_calls_only_through_the_injected_caller():
    """The judge asks a `Caller` it is given (the Replayer, in audit and monitor) instead of importing replay."""
    reach = [f"{m} imports {t}" for m in MODULES if _layer(m) == "scorers" for t, _ in _imports(m)
             if _layer(t) == "replay"]
    assert reach == []


def test_the_cli_uses_only_the_public_api():
    allowed = {"tiertool", "tiertool.errors", "tiertool.defaults", "tiertool.text"}
    assert {t for t, _ in _imports("tiertool.cli")} <= allowed


@pytest.mark.parametrize("code", ["import tiertool", "from tiertool.cli import app; app(['--help'])"])
def test_the_api_and_help_import_no_heavy_library(code):
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_every_public_name_resolves():
    import tiertool

    missing = [name for name in tiertool.__all__ if getattr(tiertool, name, None) is None]
    assert missing == []


def test_the_scorer_registry_covers_every_configurable_scorer():
    from tiertool.config.scorers import SCORER_NAMES, SPECS
    from tiertool.scorers.registry import REGISTRY

    assert set(REGISTRY) == set(SCORER_NAMES)
    assert all(REGISTRY[name].spec is spec for name, spec in zip(SCORER_NAMES, SPECS, strict=True))
