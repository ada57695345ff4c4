"""The gate deployed: `recommend --gate --litellm-config` writes a config that a real LiteLLM proxy loads, and
its pre-call hook sends each request the gate admits to the cheaper tier (issue 19).

One proxy serves the module (a start costs 30-55 s). The audit is the CLI's, on a synthetic spend log, against
the loopback provider; the gate is made by tiertool.gate's own steps (learn, plan, calibrate on fresh samples,
build) for `math-word-problems`, the task type the per-task decision keeps on the reference. Requests go through
the proxy with the OpenAI SDK; the loopback provider records which model each one reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_sample, small_answerer, write_config, write_jsonl
from tests.kit.proxy import SPEND_CALLBACK, LiteLLMProxy, skip_unless_installed, start_proxy
from tests.loopback import LoopbackLLM
from tests.test_gate import CHEAP, EASY, HARD, REFERENCE, make_gate
from tiertool import gate
from tiertool.cli import app

TASK = "math-word-problems"
KEY = {"TIERTOOL_TEST_KEY": "sk-test-not-a-real-key"}
SYSTEM = {"role": "system", "content": "be brief"}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiteLLMProxy, LoopbackLLM, gate.Gate, Path]]:
    skip_unless_installed()
    folder = tmp_path_factory.mktemp("gate-proxy")
    rows, small = make_sample.synth_log(3000, seed=11)
    with LoopbackLLM(small_answerer(small)) as provider, pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for k, v in KEY.items():
            mp.setenv(k, v)
        write_config(folder / "tiertool.yaml", provider.api_base)
        runner = CliRunner()
        assert (r := runner.invoke(app, ["audit", str(write_jsonl(folder / "spend.jsonl", rows))])).exit_code == 0, \
            r.output
        built = make_gate(folder / "gate.json", TASK)
        (folder / "proxy").mkdir()
        r = runner.invoke(app, ["recommend", "--gate", "gate.json", "--litellm-config", "proxy/proxy.yaml"])
        assert r.exit_code == 0, r.output
        config = folder / "proxy" / "proxy.yaml"
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
        doc["litellm_settings"]["callbacks"].append(SPEND_CALLBACK)  # to read the proxy's own spend rows
        config.write_text(yaml.safe_dump(doc), encoding="utf-8")
        with start_proxy(config, env=KEY) as proxy:
            yield proxy, provider, built, folder


def ask(proxy: LiteLLMProxy, provider: LoopbackLLM, text: str, **kwargs: object) -> str:
    """One chat request through the proxy to the group clients call; the model the provider was called with."""
    before = len(provider.calls)
    reply = proxy.client().chat.completions.create(
        model="gpt-4o", messages=[SYSTEM, {"role": "user", "content": text}], temperature=0.2, max_tokens=256,
        **kwargs)
    assert len(provider.calls) == before + 1, proxy.output()
    assert reply.choices[0].message is not None
    return provider.calls[-1][0]


def tagged(task: str, channel: str = "metadata.tags") -> dict[str, object]:
    return {"metadata.tags": {"extra_body": {"metadata": {"tags": [f"task:{task}"]}}},
            "tags": {"extra_body": {"tags": [f"task:{task}"]}},
            "x-litellm-tags": {"extra_headers": {"x-litellm-tags": f"task:{task}"}}}[channel]


def test_recommend_writes_the_hook_module_and_the_gate_group(deployed):
    _, _, built, folder = deployed
    assert built.tasks[TASK].threshold is not None  # the calibration proved a threshold
    doc = yaml.safe_load((folder / "proxy" / "proxy.yaml").read_text(encoding="utf-8"))
    groups = {d["model_name"]: d["litellm_params"]["model"] for d in doc["model_list"] if
              "default" in d["litellm_params"].get("tags", [])}
    assert groups == {"gpt-4o": REFERENCE, "gpt-4o-gate": CHEAP, "gpt-4o-reference": REFERENCE}
    assert {"gpt-4o-gate": ["gpt-4o-reference"]} in doc["router_settings"]["fallbacks"]
    hook = (folder / "proxy" / "tiertool_gate.py").read_text(encoding="utf-8")
    assert str((folder / "gate.json").resolve()) in hook and "tiertool.gate.litellm_hook" in hook


@pytest.mark.parametrize("channel", ["metadata.tags", "tags", "x-litellm-tags"])
def test_the_gate_sends_the_requests_it_admits_to_the_cheaper_tier(deployed, channel):
    proxy, provider, built, _ = deployed
    easy, hard = (f"{EASY} n1 n2 n3", f"{HARD} n1 n2 n3")
    messages = lambda text: [SYSTEM, {"role": "user", "content": text}]  # noqa: E731
    params = {"temperature": 0.2, "max_tokens": 256}
    assert built.route(messages(easy), params, TASK) == CHEAP and built.route(messages(hard), params, TASK) == REFERENCE
    assert ask(proxy, provider, easy, **tagged(TASK, channel)) == "gpt-4o-mini"
    assert ask(proxy, provider, hard, **tagged(TASK, channel)) == "gpt-4o"


def test_uncalibrated_and_untagged_requests_are_not_gated(deployed):
    proxy, provider, _, _ = deployed
    easy = f"{EASY} n4 n5"
    assert ask(proxy, provider, easy) == "gpt-4o"  # no task: the gate never routes it
    assert ask(proxy, provider, easy, **tagged("support-reply")) == "gpt-4o"  # a task the gate did not prove
    assert ask(proxy, provider, easy, **tagged("ticket-triage")) == "gpt-4o-mini"  # moved whole, by its tag


def test_the_spend_row_of_a_routed_request_names_the_gate_group(deployed):
    proxy, provider, _, _ = deployed
    reply = proxy.client().chat.completions.create(
        model="gpt-4o", messages=[SYSTEM, {"role": "user", "content": f"{EASY} n6"}], temperature=0.2,
        max_tokens=256, **tagged(TASK))
    row = proxy.spend_record(reply.id)["spend_row"]
    assert (row["model_group"], row["model"]) == ("gpt-4o-gate", CHEAP)
