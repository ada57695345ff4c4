"""The audit learns the gate when `gate.enabled`: gate.json in the audit folder, learnt from the audit's own
per-task samples and proven on the next requests of each task's seeded order, which recommend then deploys."""

from __future__ import annotations

from collections import defaultdict

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_sample, small_answerer, write_config, write_jsonl
from tests.loopback import LoopbackLLM
from tiertool import gate
from tiertool.cli import app
from tiertool.ingest.sample import sample_key

runner = CliRunner()
CAP, FRESH = 100, 100


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory):
    """One audit for the module (it replays about 800 requests on the loopback small model)."""
    tmp_path = tmp_path_factory.mktemp("gate-audit")
    rows, small = make_sample.synth_log(1200, seed=11)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    with LoopbackLLM(small_answerer(small)) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERTOOL_TEST_KEY", "sk-test-not-a-real-key")
        mp.delenv("OPENAI_API_KEY", raising=False)
        mp.chdir(tmp_path)
        write_config(tmp_path / "tiertool.yaml", server.api_base, sample=f"{{round: 20, max_per_task: {CAP}}}",
                     extra=f"gate: {{enabled: true, max_calibration: {FRESH}}}")
        r = runner.invoke(app, ["audit", str(log)])
        assert r.exit_code == 0, r.output
        yield tmp_path, rows, server, r.output


def test_the_gate_learns_on_the_audits_sample_and_proves_on_the_next_requests(gated):
    tmp_path, rows, server, output = gated
    path = tmp_path / ".tiertool" / "gate.json"
    assert path.stat().st_mode & 0o077 == 0  # its vocabulary holds words of the prompts
    built = gate.load(path)
    assert (built.cheap, built.fallback, built.target) == ("openai/gpt-4o-mini", "openai/gpt-4o", 0.95)
    assert built.tasks and all(t.calibrated <= FRESH for t in built.tasks.values())
    for task, tg in built.tasks.items():
        if tg.threshold is not None:
            assert tg.lower_bound >= built.target and f"gate: {task}: routes" in output
    order = defaultdict(list)
    for row in sorted(rows, key=lambda row: sample_key(0, row["request_id"])):
        order[row["request_tags"][0].removeprefix("task:")].append(row["messages"][-1]["content"])
    expected = {p for task, prompts in order.items()
                for p in prompts[:CAP + (built.tasks[task].calibrated if task in built.tasks else 0)]}
    asked = {messages[-1]["content"] for model, messages in server.calls if model == "gpt-4o-mini"}
    assert asked == expected  # learning: the first CAP of each task; fresh: the next ones, each asked once


def test_recommend_deploys_the_audits_gate(gated):
    tmp_path = gated[0]
    r = runner.invoke(app, ["recommend", "--gate", ".tiertool/gate.json", "--litellm-config", "proxy.yaml"])
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((tmp_path / "proxy.yaml").read_text(encoding="utf-8"))
    assert doc["litellm_settings"]["callbacks"] == ["tiertool_gate.gate"]
    assert {d["model_name"] for d in doc["model_list"]} == {"gpt-4o", "gpt-4o-gate", "gpt-4o-reference"}
    assert "gate.json" in (tmp_path / "tiertool_gate.py").read_text(encoding="utf-8")


def test_recommend_refuses_a_file_that_is_not_a_gate(gated):
    (gated[0] / "not-a-gate.json").write_text('{"format": "something else"}', encoding="utf-8")
    r = runner.invoke(app, ["recommend", "--gate", "not-a-gate.json", "--litellm-config", "proxy.yaml"])
    assert r.exit_code != 0 and "not a tiertool gate file" in r.output
    r = runner.invoke(app, ["recommend", "--gate", ".tiertool/gate.json"])
    assert r.exit_code == 2 and "--gate needs --litellm-config" in r.output
