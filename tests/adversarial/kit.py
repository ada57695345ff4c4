"""What the adversarial tests share: a small generated log and config, the CLI in-process and in a subprocess
(with the loopback-only network guard), the audit's decisions, and a folder even root cannot write."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, make_sample, write_jsonl
from tiertool import cli

runner = CliRunner()
KEY_ENV = "TIERTOOL_TEST_KEY"
KEY = "sk-test-ADVERSARIAL-0123456789abcdef"
# gpt-4o-mini's list price, per token: what the loopback's ledger is billed at
USD_IN, USD_OUT = 0.15e-6, 0.60e-6


def small_log(folder: Path, n: int = 300, seed: int = 7) -> tuple[Path, dict[str, str]]:
    """A LiteLLM spend log of four task types with the reference's answers, and the small model's answers."""
    rows, small = make_sample.synth_log(n, seed=seed)
    return write_jsonl(folder / "spend.jsonl", rows), small


def config(folder: Path, api_base: str, *, replay: str = "", extra: str = "", per_task: int = 10,
           target: float = 0.5, small_model: str = "openai/gpt-4o-mini") -> Path:
    """Two tiers on the loopback; a fixed sample and a low bar, so a clean run moves the easy task types."""
    path = folder / "tiertool.yaml"
    path.write_text(f"""
tiers:
  - {{name: small, model: {small_model}, api_base: {api_base}, api_key_env: {KEY_ENV}}}
  - {{name: large, model: openai/gpt-4o, api_base: {api_base}, api_key_env: {KEY_ENV}}}
quality: {{target: {target}, confidence: 0.9}}
tasks:
  ticket-triage: {{scorer: exact}}
  order-extract: {{scorer: json}}
  math-word-problems: {{scorer: numeric}}
  default: {{scorer: fuzzy, threshold: 0.85}}
sample: {{sequential: false, per_task: {per_task}}}
replay: {{max_attempts: 2, timeout: 3, backoff: 0.01{replay}}}
{extra}
""", encoding="utf-8")
    return path


def audit(folder: Path, log: Path, *args: str):
    """`tiertool audit` in this process (litellm stays loaded between tests)."""
    return runner.invoke(cli.app, ["audit", str(log), "--config", str(folder / "tiertool.yaml"),
                                   "--out", str(folder / ".tiertool"), "--yes", *args])


def report_json(folder: Path) -> dict:
    r = runner.invoke(cli.app, ["report", "--format", "json", "--audit", str(folder / ".tiertool")])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def decisions(folder: Path) -> dict[str, tuple[str, str]]:
    """task -> (tier, status) as the audit decided."""
    return {t["task"]: (t["tier"], t["status"]) for t in report_json(folder)["tasks"]}


def spawn(args: list[str], *, prelude: str = "", env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """`tiertool ARGS` in its own process through `main()` (as the installed command runs), with the network
    guard installed; `prelude` is Python run first (fault injection inside that process)."""
    code = (f"from tests import netguard; netguard.install()\n{prelude}\n"
            f"import sys; from tiertool.cli import main; sys.argv = ['tiertool', *{args!r}]; main()")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, KEY_ENV: KEY, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def audit_args(folder: Path, log: Path, *args: str) -> list[str]:
    return ["audit", str(log), "--config", str(folder / "tiertool.yaml"), "--out", str(folder / ".tiertool"),
            "--yes", *args]


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """The folder made read-only, for root too (an immutable folder: chattr +i); skipped where that is not
    possible."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root and this filesystem cannot make a folder immutable (chattr +i)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def no_traceback(result: object) -> None:
    """No traceback and no bare `Aborted!`: in a subprocess's stderr (text) or a CliRunner result."""
    text = result if isinstance(result, str) else getattr(result, "output", "")
    exc = getattr(result, "exception", None)
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert "Traceback" not in text and "Aborted" not in text, text
