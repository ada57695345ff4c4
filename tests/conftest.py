from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests import netguard
from tests.loopback import LoopbackLLM

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "routellm"
# Two tiers on an address nothing listens on, bar 0.8: for audits that imported labels decide with no call.
LABELS_ONLY_CONFIG = """
tiers:
  - {name: small, model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9", api_key_env: TIERTOOL_TEST_KEY}
  - {name: large, model: openai/gpt-4o, api_base: "http://127.0.0.1:9", api_key_env: TIERTOOL_TEST_KEY}
quality: {target: 0.8, confidence: 0.95}
"""

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
pytest_plugins = ["tests.kit.postgres", "tests.kit.proxy", "tests.kit.spark", "tests.kit.parallel", "pytester"]
netguard.install()
# Property tests check results, not speed: a per-example deadline only fails them on a busy machine.
settings.register_profile("tiertool", deadline=None)
settings.load_profile("tiertool")


def load_script(path: Path):
    """Import a script that is not in a package (samples/, benchmarks/) by its path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


make_sample = load_script(ROOT / "samples" / "make_sample.py")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (../shared beside the project); skipping")
    return SHARED


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def small_answerer(small_by_prompt: dict[str, str]):
    """The loopback 'small model': answers each prompt with the synthetic small answer."""

    def answer(model: str, messages: list[dict]) -> str:
        return small_by_prompt.get(messages[-1]["content"], "I don't know")

    return answer


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("TIERTOOL_TEST_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return "TIERTOOL_TEST_KEY"


@pytest.fixture
def synth():
    return make_sample.synth_log


@pytest.fixture
def server_factory():
    servers = []

    def make(answer, faults=None) -> LoopbackLLM:
        s = LoopbackLLM(answer, faults)
        s.__enter__()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.__exit__(None, None, None)


def write_config(path: Path, api_base: str | None, key_env: str | None = "TIERTOOL_TEST_KEY",
                 extra: str = "", sample: str = "{round: 20, max_per_task: 400}",
                 replay: str = "{max_attempts: 3, timeout: 10}", quality: str = "{target: 0.95, confidence: 0.95}",
                 small_model: str = "openai/gpt-4o-mini", small_tier: str = "") -> Path:
    """The tests' tiertool.yaml: a small and a large tier on the loopback server, a scorer per synthetic task
    type; `small_tier` adds fields to the small tier (", rpm: 60")."""
    base = f", api_base: {api_base}" if api_base else ""
    key = f", api_key_env: {key_env}" if key_env else ""
    path.write_text(f"""
tiers:
  - {{name: small, model: {small_model}{base}{key}{small_tier}}}
  - {{name: large, model: openai/gpt-4o{base}{key}}}
quality: {quality}
tasks:
  ticket-triage: {{scorer: exact}}
  order-extract: {{scorer: json}}
  math-word-problems: {{scorer: numeric}}
  default: {{scorer: fuzzy, threshold: 0.85}}
sample: {sample}
replay: {replay}
{extra}
""", encoding="utf-8")
    return path


def spawn_cli(args: list[str], *, env: dict[str, str] | None = None, prelude: str = "",
              **kw: Any) -> subprocess.Popen:
    """`tiertool ARGS` in its own process through `main()` (as the installed command runs), with the
    loopback-only network guard installed; `prelude` is Python run first (fault injection in that process)."""
    code = (f"from tests import netguard; netguard.install()\n{prelude}\n"
            f"import sys; from tiertool.cli import main; sys.argv = ['tiertool', *{args!r}]; main()")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **(env or {})}, **kw)


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60) -> None:
    """SIGKILL `proc` once `ready()` holds (asserting it got there alive), as a crash mid-audit would."""
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def project(tmp_path, synth, server_factory, env_key, monkeypatch):
    """A 3,000-request LiteLLM spend log in four task types, a loopback small model, and a config for both."""
    rows, small = synth(3000, seed=11)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    return tmp_path, log, server, rows
