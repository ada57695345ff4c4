"""`tiertool init` on every bundled and fixture log: the starter config it writes is accepted as is by
`tiertool audit --dry-run` (endpoints aside: a dry run sends nothing). Logs tiertool cannot read yet are
expected failures, each with its reason; strict, so the list must shrink as the ingest branches land."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import ROOT
from tests.reportkit import cli

FIXTURES = ROOT / "tests" / "fixtures"
NOT_LOGS = {"litellm_config.yaml"}  # the proxy config the LiteLLM fixtures were made with

TRACES = "a Langfuse traces file holds no requests alone (it goes with its observations)"
NOT_YET = {  # path under tests/fixtures -> why it holds no request on its own (tiertool says so, exit 2)
    "producers/langsmith_ingest.jsonl": "a check record of the LangSmith fixture (the tracer's upload), not a log",
    "hosted/langfuse/blob/cm4acmeprj0001lf/traces/2026-11-30T10-00-00.parquet": TRACES,
    "hosted/langfuse/blob/cm4acmeprj0001lf/traces/2026-11-30T10-00-00.jsonl": TRACES,
    "hosted/openrouter/generation_content.jsonl": "OpenRouter content pairs with its generation stats file",
}
PAIRS = [("producers/openai_batch_chat_input.jsonl", "producers/openai_batch_chat_output.jsonl"),
         ("producers/anthropic_batch_requests.jsonl", "producers/anthropic_batch_results.jsonl")]


def _logs() -> list[tuple[str, ...]]:
    files = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file()
                   and p.suffix not in (".md", ".py") and not p.name.endswith(".producer.json")
                   and p.name not in NOT_LOGS and "__pycache__" not in p.parts)
    return [(f,) for f in files] + PAIRS


def _param(logs: tuple[str, ...]):
    why = next((NOT_YET[f] for f in logs if f in NOT_YET), None)
    marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
    return pytest.param(logs, id="+".join(logs), marks=marks)


def test_every_expected_failure_is_a_fixture():
    assert set(NOT_YET) <= {f for (f,) in _logs()[:-len(PAIRS)]}


@pytest.mark.parametrize("logs", [_param(x) for x in _logs()] + [pytest.param(("samples/logs.jsonl",), id="sample")])
def test_init_writes_a_config_that_audit_dry_run_accepts(logs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = [str(ROOT / f) if f.startswith("samples/") else str(FIXTURES / f) for f in logs]
    r = cli("init", *paths)
    assert r.exit_code == 0, r.output
    config = yaml.safe_load((tmp_path / "tiertool.yaml").read_text())
    assert 2 <= len(config["tiers"]) <= 4 and config["tasks"]["default"] == {"scorer": "auto"}
    r = cli("audit", *paths, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "--dry-run: nothing sent, nothing written" in r.stderr and "warning" not in r.stderr
    assert not (tmp_path / ".tiertool").exists()
