"""`sample.seed` in tiertool.yaml picks the sampled requests; `--seed` overrides it; the audit keeps the seed
it used (issue 16). Imported labels grade every sample, so nothing is called."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import LABELS_ONLY_CONFIG, write_jsonl
from tiertool.cli import app
from tiertool.store import load_audit

runner = CliRunner()

CONFIG = LABELS_ONLY_CONFIG


def _sampled(tmp_path, name: str, config: str, *args: str) -> tuple[frozenset[str], int]:
    (tmp_path / "tiertool.yaml").write_text(config, encoding="utf-8")
    r = runner.invoke(app, ["audit", "log.jsonl", "--labels", "labels.jsonl", "--offline", "--out", name, *args],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    audit = load_audit(name)
    return frozenset(x.request_id for x in audit.results if x.tier == "small"), audit.config.sample.seed


def test_the_config_seed_samples_as_the_cli_seed_does_and_the_cli_wins(tmp_path, monkeypatch):
    rows = [{"id": f"r{i}", "model": "gpt-4o", "tags": ["task:qa"], "messages": [{"role": "user", "content": f"q{i}"}],
             "usage": {"prompt_tokens": 500, "completion_tokens": 100}} for i in range(1000)]
    write_jsonl(tmp_path / "log.jsonl", rows)
    write_jsonl(tmp_path / "labels.jsonl", [{"request_id": f"r{i}", "passed": True} for i in range(1000)])
    monkeypatch.chdir(tmp_path)
    default, seed0 = _sampled(tmp_path, "a", CONFIG)
    from_config, seed7 = _sampled(tmp_path, "b", CONFIG + "sample: {seed: 7}\n")
    from_cli, cli7 = _sampled(tmp_path, "c", CONFIG, "--seed", "7")
    overridden, cli0 = _sampled(tmp_path, "d", CONFIG + "sample: {seed: 7}\n", "--seed", "0")
    assert (seed0, seed7, cli7, cli0) == (0, 7, 7, 0)  # the stored config says which seed sampled
    assert 0 < len(default) < 1000 and from_config == from_cli and from_config != default
    assert overridden == default
