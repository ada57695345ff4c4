"""Fixed audits for the report, gate and monitor tests: deterministic (fixed seed, fixed log times, recorded
answers, offline), built once per module and copied per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import ROOT, make_sample, write_jsonl
from tiertool.cli import app

runner = CliRunner()
HOSTILE = ("<script>document.title='pwned';document.body.appendChild(document.createElement('div')).id='pwned'"
           "</script> mail ada.lovelace@example.com or call +1 (555) 123-4567, card 4111 1111 1111 1111, "
           "key sk-proj-AbCdEf0123456789XyZ")
HOSTILE_ANSWER = "<img src=x onerror=\"document.title='pwned2'\"> Thanks!"


def cli(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env)


def bundled_audit(folder: Path) -> Path:
    """The bundled sample, audited offline in `folder` (a copy of samples/)."""
    shutil.copytree(ROOT / "samples", folder)
    with _chdir(folder):
        r = cli("audit", "logs.jsonl", "--offline")
        assert r.exit_code == 0, r.output
        assert cli("recommend").exit_code == 0
    return folder


def hostile_audit(folder: Path) -> Path:
    """A sample whose support-reply prompts and answers carry script, an e-mail, a phone, a card and a key."""
    folder.mkdir()
    rows, small = make_sample.synth_log(1000, seed=5)
    recorded = []
    for r in rows:
        user = r["messages"][1]
        if r["request_tags"] == ["task:support-reply"]:
            answer = small.pop(user["content"])
            user["content"] += " " + HOSTILE
            small[user["content"]] = answer
            msg = r["response"]["choices"][0]["message"]
            msg["content"] += " " + HOSTILE_ANSWER
        recorded.append({"model": make_sample.SMALL, "messages": r["messages"], "output": small[user["content"]]})
    write_jsonl(folder / "logs.jsonl", rows)
    write_jsonl(folder / "recorded.jsonl", recorded)
    shutil.copy(ROOT / "samples" / "tiertool.yaml", folder / "tiertool.yaml")
    with _chdir(folder):
        r = cli("audit", "logs.jsonl", "--offline")
        assert r.exit_code == 0, r.output
    return folder


class _chdir:
    def __init__(self, path: Path) -> None:
        self.path, self.old = path, None

    def __enter__(self):
        import os

        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        import os

        os.chdir(self.old)


def load_json(text: str) -> dict:
    return json.loads(text)
