"""From a LiteLLM proxy's own logs to a running tiered proxy, and monitoring what it routes (issue 13).

The whole loop runs in real `litellm --config` processes in front of the loopback provider:
1. a "before" proxy (everything on the reference, group `app-llm`) serves tagged, metadata-typed and plain
   traffic with the OpenAI SDK; the proxy's own code writes the spend rows (tests.kit.proxy_spend_rows);
2. `tiertool audit` reads those rows, replays the cheap model on the loopback provider, and `recommend
   --litellm-config --merge` writes the tiered config into the user's existing one;
3. an "after" proxy loads the written file: every tag channel, untagged and unknown tags, the log's model-group
   name, a cheap deployment that is down (fallback), and the user's other model are checked at the provider;
4. `tiertool monitor` reads the after-proxy's spend rows and finds each moved task's traffic on its tier.
Two proxy starts (20-55 s each) serve the whole module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.kit.proxy import SPEND_CALLBACK, LiteLLMProxy, skip_unless_installed, start_proxy
from tests.loopback import Fail, LoopbackLLM
from tiertool.cli import app

runner = CliRunner()
GROUP = "app-llm"
PER_TASK = 80  # enough for all-passing samples to prove a 0.9 bar at 0.95 confidence over three tasks
# How each task's client reaches the proxy: triage sends a feature tag, extract only names itself in metadata
# (LiteLLM cannot route on that), summarize sends a task tag but the cheap model cannot do it.
CLIENTS = {
    "triage": {"extra_body": {"metadata": {"tags": ["feature:triage"]}}},
    "extract": {"extra_body": {"metadata": {"task": "extract"}}},
    "summarize": {"extra_body": {"metadata": {"tags": ["task:summarize"]}}},
}


def prompt(task: str, i: int) -> str:
    return {"triage": f"Triage ticket #{i}: my card was charged twice, order {1000 + i}. Reply with a label.",
            "extract": f"Extract the order number from: 'please refund order {5000 + i} today'. Reply with it.",
            "summarize": f"Summarize in one line the meeting notes number {i}: budget up, hiring paused."}[task]


def answer(task: str, i: int) -> str:
    return {"triage": "billing", "extract": str(5000 + i), "summarize": f"Notes {i}: budget up, hiring paused."}[task]


class Provider:
    """The loopback provider: the reference answers everything right; the cheap model fails `summarize`;
    `down` makes the cheap model answer HTTP 500."""

    def __init__(self) -> None:
        self.down = False
        self.answers = {prompt(t, i): answer(t, i) for t in CLIENTS for i in range(200)}

    def __call__(self, model: str, messages: list[dict]) -> str:
        text = messages[-1]["content"]
        if model == "cheap-model":
            if self.down:
                raise Fail(500, "cheap deployment down")
            if text.startswith("Summarize"):
                return "I cannot summarize that."
        return self.answers.get(text, "?")


def deployment(group: str, model: str, api_base: str, **extra: object) -> dict:
    return {"model_name": group, "litellm_params": {"model": f"openai/{model}", "api_base": api_base,
                                                    "api_key": "sk-loopback", **extra}}


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[LoopbackLLM, Provider]]:
    answers = Provider()
    with LoopbackLLM(answers) as server:
        yield server, answers


@pytest.fixture(scope="module")
def user_config(provider, tmp_path_factory) -> Path:
    """The user's production proxy config before tiering: the app's group on the reference, another model,
    settings and the spend callback, all of which a merge must keep."""
    server, _ = provider
    path = tmp_path_factory.mktemp("user") / "proxy.yaml"
    path.write_text(yaml.safe_dump({
        "model_list": [deployment(GROUP, "ref-model", server.api_base),
                       deployment("other-llm", "other-model", server.api_base)],
        "litellm_settings": {"callbacks": [SPEND_CALLBACK], "drop_params": True},
        "general_settings": {"store_prompts_in_spend_logs": True},
        "router_settings": {"num_retries": 0},
    }), encoding="utf-8")
    return path


def send(proxy: LiteLLMProxy, server: LoopbackLLM, task: str, i: int, model: str = GROUP, **channel: object
         ) -> tuple[str, str]:
    """One request through the proxy: (the model the provider was called with, the response id)."""
    before = len(server.calls)
    reply = proxy.client().chat.completions.create(model=model, messages=[{"role": "user", "content": prompt(task, i)}],
                                                   **(channel or CLIENTS[task]))  # type: ignore[arg-type]
    assert len(server.calls) > before, proxy.output()
    return server.calls[-1][0], reply.id


def spend_rows(proxy: LiteLLMProxy, ids: list[str], path: Path, kind: str = "spend_row") -> Path:
    """The spend rows the proxy wrote for `ids`, as a LiteLLM_SpendLogs JSON-lines export (or, with
    kind="standard_logging_object", the StandardLoggingPayloads its bucket loggers write)."""
    rows = [proxy.spend_record(i)[kind] for i in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deployed(provider, user_config, tmp_path_factory) -> Iterator[dict]:
    """Steps 1-3: the before-proxy's log, the audit, the written config, and the after-proxy serving it."""
    skip_unless_installed()
    server, _ = provider
    work = tmp_path_factory.mktemp("deploy")
    with start_proxy(user_config) as before:
        ids = [send(before, server, task, i)[1] for task in CLIENTS for i in range(PER_TASK)]
        log = spend_rows(before, ids, work / "spend.jsonl")
    (work / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: cheap, model: openai/cheap-model, api_base: {server.api_base}, api_key_env: LOOPBACK_KEY,
     params: {{reasoning_effort: low}}}}
  - {{name: reference, model: openai/ref-model, api_base: {server.api_base}, api_key_env: LOOPBACK_KEY}}
quality: {{target: 0.9, confidence: 0.95}}
tasks: {{default: {{scorer: exact}}}}
sample: {{round: 20, max_per_task: {PER_TASK}}}
""", encoding="utf-8")
    env = {"LOOPBACK_KEY": "sk-loopback"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("LOOPBACK_KEY", "sk-loopback")
        audit = runner.invoke(app, ["audit", str(log)])
        assert audit.exit_code == 0, audit.output
        rec = runner.invoke(app, ["recommend", "--litellm-config", "router.yaml", "--merge", str(user_config)])
        assert rec.exit_code == 0, rec.output
    router = work / "router.yaml"
    with start_proxy(router, env) as after:
        yield {"work": work, "log": log, "router": router, "recommend": rec.output, "after": after}


def test_the_proxy_log_is_read_with_every_task_and_the_client_group(deployed):
    tiers = yaml.safe_load((deployed["work"] / "tiers.yaml").read_text())["tasks"]
    assert {t: v["tier"] for t, v in tiers.items()} == {"triage": "cheap", "extract": "cheap",
                                                        "summarize": "reference"}, tiers
    assert all(v["requests"] == PER_TASK for v in tiers.values())


def test_config_routes_on_the_clients_group_and_tags_and_keeps_the_users_settings(deployed, user_config):
    doc = yaml.safe_load(deployed["router"].read_text())
    user = yaml.safe_load(user_config.read_text())
    by_group: dict[str, list[dict]] = {}
    for m in doc["model_list"]:
        by_group.setdefault(m["model_name"], []).append(m["litellm_params"])
    assert set(by_group) == {GROUP, GROUP + "-reference", "other-llm"}  # the user's group replaced, theirs kept
    cheap = next(p for p in by_group[GROUP] if p["model"] == "openai/cheap-model")
    assert cheap["tags"] == ["feature:triage", "task:extract"]  # the tag clients send; task: where none is sent
    assert cheap["api_key"] == "os.environ/LOOPBACK_KEY" and cheap["reasoning_effort"] == "low"
    assert doc["litellm_settings"] == user["litellm_settings"]
    assert doc["general_settings"] == user["general_settings"]
    assert doc["router_settings"] == {"num_retries": 0, "enable_tag_filtering": True,
                                      "fallbacks": [{GROUP: [GROUP + "-reference"]}]}
    header = deployed["router"].read_text().split("model_list:")[0]
    assert "LITELLM_MASTER_KEY=" in header and f"Merged into {user_config}" in header
    assert "task 'extract' -> tier cheap" in header and "NEEDS CLIENT TAGS" in header
    assert "tier cheap sends reasoning_effort='low' as its deployment's params" in header
    assert "x-litellm-tags: task:extract" in deployed["recommend"]
    assert "needs client tags: 1 moved task type(s)" in deployed["recommend"]


@pytest.mark.parametrize("channel", [
    {"extra_body": {"metadata": {"tags": ["feature:triage"]}}},
    {"extra_body": {"tags": ["feature:triage"]}},
    {"extra_headers": {"x-litellm-tags": "feature:triage"}},
], ids=["metadata.tags", "tags", "x-litellm-tags"])
def test_each_tag_channel_reaches_the_cheap_tier_with_the_params_it_was_audited_with(deployed, provider, channel):
    server, _ = provider
    assert {send(deployed["after"], server, "triage", i, **channel)[0] for i in range(6)} == {"cheap-model"}
    assert server.requests[-1][1].get("reasoning_effort") == "low"  # the tier's params, as the audit replayed it


def test_tasks_that_stay_untagged_and_unknown_tags_reach_the_reference(deployed, provider):
    server, _ = provider
    after = deployed["after"]
    assert {send(after, server, "summarize", i)[0] for i in range(6)} == {"ref-model"}
    assert "reasoning_effort" not in server.requests[-1][1]  # the cheap tier's params stay on its deployment
    assert {send(after, server, "extract", i)[0] for i in range(6)} == {"ref-model"}  # no tag sent yet
    assert {send(after, server, "triage", i, extra_body={"metadata": {"tags": ["feature:nope"]}})[0]
            for i in range(6)} == {"ref-model"}
    assert send(after, server, "triage", 0, model="other-llm", extra_body={})[0] == "other-model"


def test_a_moved_task_is_served_by_the_reference_while_its_cheap_deployment_is_down(deployed, provider):
    server, answers = provider
    answers.down = True
    try:
        called, _ = send(deployed["after"], server, "triage", 3)
    finally:
        answers.down = False
    assert called == "ref-model"  # HTTP 200 from the fallback group (an error would have raised)


def test_monitor_on_the_tiered_proxys_spend_rows_and_payloads_checks_each_moved_task_on_its_tier(deployed, provider):
    server, _ = provider
    after = deployed["after"]
    ids = [send(after, server, "triage", i)[1] for i in range(50)]
    ids += [send(after, server, "extract", i, extra_body={"metadata": {"tags": ["task:extract"]}})[1]
            for i in range(50)]
    ids += [send(after, server, "summarize", i)[1] for i in range(10)]
    for kind in ("spend_row", "standard_logging_object"):
        log = spend_rows(after, ids, deployed["work"] / f"after-{kind}.jsonl", kind)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(deployed["work"])
            mp.setenv("LOOPBACK_KEY", "sk-loopback")
            r = runner.invoke(app, ["monitor", str(log), "--format", "json", "--per-task", "50"])
        assert r.exit_code == 0, (kind, r.output)
        health = {t["task"]: t for t in json.loads(r.stdout)["tasks"]}
        assert set(health) == {"triage", "extract"}, kind
        for task in ("triage", "extract"):
            assert health[task]["on_tier"] == 50 and health[task]["scored"] == 50, (kind, health[task])
            assert health[task]["status"] == "ok", (kind, health[task])
