"""What the adversarial tests share: a small generated log and config, the CLI in-process and in a subprocess
(with the loopback-only network guard), the audit's decisions, and a folder even root cannot write."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import make_sample, spawn_cli, write_config, write_jsonl
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
    return write_config(folder / "tiertool.yaml", api_base, KEY_ENV, extra=extra, small_model=small_model,
                        sample=f"{{sequential: false, per_task: {per_task}}}",
                        replay=f"{{max_attempts: 2, timeout: 3, backoff: 0.01{replay}}}",
                        quality=f"{{target: {target}, confidence: 0.9}}")


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
    """`tiertool ARGS` in its own process (conftest.spawn_cli) with the test key, output captured as text."""
    return spawn_cli(args, prelude=prelude, env={KEY_ENV: KEY, **(env or {})}, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True, **kw)


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
