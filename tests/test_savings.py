"""Savings finance can check: every request priced, sources named, figures that reconcile."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import write_config
from tiertool.cli import app
from tiertool.config import parse_config
from tiertool.pricing.prices import lookup
from tiertool.pricing.savings import project
from tiertool.records import Key, Usage

runner = CliRunner()


def test_prices_come_from_the_bundled_map_an_alias_or_the_config():
    p = lookup("openai/gpt-4o-mini")
    assert p is not None and p.input == pytest.approx(0.15e-6) and "litellm price map" in p.source
    old = lookup("claude-3-haiku-20240307")  # dropped from the map, resolved through the alias table
    assert old is not None and old.input == pytest.approx(0.25e-6) and "alias" in old.source
    cfg = parse_config({"tiers": [{"name": "a", "model": "my/model"}, {"name": "b", "model": "gpt-4o"}],
                        "prices": {"my/model": {"input": 1.0, "output": 2.0, "batch_discount": 0.5}}})
    mine = lookup("my/model", cfg.prices)
    assert mine.input == pytest.approx(1e-6) and mine.source == "tiertool.yaml prices (my/model)"
    assert lookup("gpt-4o", cfg.prices).source.startswith("litellm")
    assert lookup("no-such-model-anywhere") is None


def test_cost_counts_cached_cache_write_batch_and_output_tokens():
    p = lookup("gpt-4o")
    plain = p.cost(1000, 100)
    assert plain == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)
    assert p.cost(1000, 100, cached_tokens=400) == pytest.approx(600 * 2.5e-6 + 400 * 1.25e-6 + 100 * 10e-6)
    assert p.cost(1000, 100, batch=True) == pytest.approx(plain / 2)


def _vol() -> dict[Key, Usage]:
    return {
        Key("triage", "gpt-4o", False, f"2026-10-{d:02d}"): Usage(requests=100, replayable=100,
                                                                   input_tokens=100_000 + d * 1000,
                                                                   output_tokens=5_000)
        for d in range(1, 15)
    } | {Key("chat", "gpt-4o", False, "2026-10-01"): Usage(requests=10, replayable=10, input_tokens=10_000,
                                                           output_tokens=10_000, logged_cost=0.5, logged_cost_n=10)}


def test_savings_reconcile_and_the_interval_brackets_the_monthly_figure():
    s = project(_vol(), {"triage": "openai/gpt-4o-mini", "chat": "openai/gpt-4o"}, 14.0)
    by = {t.task: t for t in s.by_task}
    assert s.current_usd == pytest.approx(sum(t.current_usd for t in s.by_task))
    assert by["chat"].current_usd == by["chat"].projected_usd == 0.5  # logged cost, unchanged model
    assert "logged cost" in by["chat"].source and "gpt-4o-mini" in by["triage"].source
    tokens_in = sum(100_000 + d * 1000 for d in range(1, 15))
    assert by["triage"].projected_usd == pytest.approx(tokens_in * 0.15e-6 + 14 * 5000 * 0.6e-6)
    low, high = s.interval_30d
    assert low <= s.per_30_days(s.saved_usd) <= high
    assert s.saved_fraction == pytest.approx(s.saved_usd / s.current_usd)


def test_unpriced_models_are_named_not_guessed():
    s = project({Key("t", "mystery-model", False, ""): Usage(requests=3, input_tokens=10)}, {"t": "gpt-4o"}, None)
    assert s.unpriced == ("mystery-model",) and s.current_usd == 0


def test_report_shows_oracle_audit_cost_and_break_even(project):
    _, log, _, _ = project
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    s = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["savings"]
    assert 0 < s["oracle_captured"] <= 1 and s["oracle_saved_usd"] >= s["saved_usd"]
    assert s["audit_cost_usd"] > 0 and s["break_even_days"] > 0
    assert s["monthly_saved_interval_usd"][0] <= s["monthly_saved_usd"] <= s["monthly_saved_interval_usd"][1]
    assert set(s["sources"]) == {"ticket-triage", "order-extract", "math-word-problems", "support-reply"}


def test_litellm_config_routes_each_task_tag_through_the_router(project):
    tmp_path, log, server, _ = project
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    assert runner.invoke(app, ["recommend", "--litellm-config", "proxy.yaml"]).exit_code == 0
    proxy = yaml.safe_load((tmp_path / "proxy.yaml").read_text())
    assert proxy["router_settings"]["enable_tag_filtering"] is True
    assert "sk-test" not in (tmp_path / "proxy.yaml").read_text()  # keys stay in the environment

    from tiertool.replay.llm import litellm

    router = litellm().Router(model_list=proxy["model_list"], **proxy["router_settings"])
    name = proxy["model_list"][0]["model_name"]
    before = len(server.calls)

    async def ask(tags: list[str] | None) -> str:
        r = await router.acompletion(model=name, messages=[{"role": "user", "content": "hello"}],
                                     metadata={"tags": tags} if tags else {})
        return r.model

    got = {tag: asyncio.run(ask([tag] if tag else None)) for tag in
           ("task:ticket-triage", "task:order-extract", "task:math-word-problems", None)}
    assert [m for m, _ in server.calls[before:]] == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o"]
    assert got == {"task:ticket-triage": "gpt-4o-mini", "task:order-extract": "gpt-4o-mini",
                   "task:math-word-problems": "gpt-4o", None: "gpt-4o"}


def test_cascade_is_estimated_when_the_config_asks(project):
    tmp_path, log, server, _ = project
    write_config(tmp_path / "tiertool.yaml", server.api_base,
                 extra="cascade:\n  order-extract: {check: json}\n  math-word-problems: {check: regex, "
                       "pattern: 'Answer: \\d+$'}\n")
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    assert runner.invoke(app, ["recommend"]).exit_code == 0
    cascade = yaml.safe_load((tmp_path / "tiers.yaml").read_text())["cascade"]
    extract = cascade["order-extract"]
    assert extract["escalation_rate"] == 0 and extract["quality"] == 1.0  # every small answer is valid JSON
    assert extract["expected_cost_usd"] < extract["reference_cost_usd"]
    math = cascade["math-word-problems"]  # the check passes on wrong answers too: quality stays low
    assert math["escalation_rate"] == 0 and math["quality"] < 0.95 and math["quality_lower_bound"] < math["quality"]
    report = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)
    assert report["cascade"] == cascade


def test_cascade_check_needs_its_options(tmp_path, monkeypatch):
    (tmp_path / "tiertool.yaml").write_text("tiers: [{name: a, model: m}, {name: b, model: n}]\n"
                                            "cascade: {t: {check: regex}}\n")
    (tmp_path / "log.jsonl").write_text("")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", "log.jsonl"])
    assert r.exit_code == 2 and "cascade.t" in r.output and "pattern" in r.output


def test_litellm_config_model_name_override_and_merge_errors(project):
    tmp_path, log, _, _ = project
    assert runner.invoke(app, ["audit", str(log)]).exit_code == 0
    r = runner.invoke(app, ["recommend", "--litellm-config", "proxy.yaml", "--model-name", "app-llm"])
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((tmp_path / "proxy.yaml").read_text())
    assert {m["model_name"] for m in doc["model_list"]} == {"app-llm", "app-llm-reference"}
    assert doc["router_settings"]["fallbacks"] == [{"app-llm": ["app-llm-reference"]}]
    assert "needs client tags" not in r.output  # the log's clients send task: tags already

    r = runner.invoke(app, ["recommend", "--model-name", "app-llm"])
    assert r.exit_code == 2 and "add --litellm-config FILE" in r.output
    r = runner.invoke(app, ["recommend", "--litellm-config", "p.yaml", "--merge", "missing.yaml", "-o", "t.yaml"])
    assert r.exit_code == 2 and "missing.yaml: cannot read the LiteLLM config to merge into" in r.output
    assert not (tmp_path / "t.yaml").exists() and not (tmp_path / "p.yaml").exists()  # nothing half-written
    (tmp_path / "bad.yaml").write_text("model_list: 3\n")
    r = runner.invoke(app, ["recommend", "--litellm-config", "p.yaml", "--merge", "bad.yaml"])
    assert r.exit_code == 2 and "bad.yaml: expected a LiteLLM proxy config" in r.output
