"""The proxy kit: a real `litellm --config` process routes OpenAI SDK requests to the loopback provider.

One proxy serves the module (a start costs 20-55 s): two deployments behind one model group with tag routing,
a pre-call hook, loaded from a file beside the config, that rewrites the model of one group, and the kit's
spend-row callback, imported from tests.kit.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import yaml

from tests.kit.postgres import SPENDLOGS_TABLE, insert_spend_rows
from tests.kit.proxy import SPEND_CALLBACK, LiteLLMProxy, skip_unless_installed, start_proxy
from tests.loopback import LoopbackLLM

HOOK = '''
from litellm.integrations.custom_logger import CustomLogger


class RewriteGated(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if data.get("model") == "gated":
            data["model"] = "cheap-only"
        return data


rewrite_gated = RewriteGated()
'''


def deployment(group: str, model: str, api_base: str, tags: list[str] | None = None) -> dict:
    params = {"model": f"openai/{model}", "api_base": api_base, "api_key": "sk-loopback"}
    return {"model_name": group, "litellm_params": {**params, **({"tags": tags} if tags else {})}}


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackLLM]:
    with LoopbackLLM(lambda model, messages: f"answered by {model}") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(provider: LoopbackLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    skip_unless_installed()
    folder = tmp_path_factory.mktemp("proxy")
    (folder / "kit_hook.py").write_text(HOOK, encoding="utf-8")
    config = {
        "model_list": [
            deployment("app-llm", "ref-model", provider.api_base, ["default"]),
            deployment("app-llm", "cheap-model", provider.api_base, ["task:triage"]),
            deployment("cheap-only", "cheap-model", provider.api_base),
        ],
        "router_settings": {"enable_tag_filtering": True},
        "litellm_settings": {"callbacks": ["kit_hook.rewrite_gated", SPEND_CALLBACK]},
        "general_settings": {"store_prompts_in_spend_logs": True},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with start_proxy(path) as running:
        yield running


def ask(proxy: LiteLLMProxy, provider: LoopbackLLM, model: str, **kwargs: object) -> str:
    """Send one chat request through the proxy; return the model the provider was called with."""
    before = len(provider.calls)
    reply = proxy.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Classify: I was charged twice"}], **kwargs)
    assert len(provider.calls) == before + 1, proxy.output()
    called = provider.calls[-1][0]
    assert reply.choices[0].message.content == f"answered by {called}"
    return called


def test_untagged_requests_reach_the_default_deployment(proxy, provider):
    # 8 requests: were tags ignored, the router's shuffle would pick the other deployment with p = 1 - 1/256.
    assert {ask(proxy, provider, "app-llm") for _ in range(8)} == {"ref-model"}


@pytest.mark.parametrize("channel", [
    {"extra_body": {"metadata": {"tags": ["task:triage"]}}},
    {"extra_body": {"tags": ["task:triage"]}},
    {"extra_headers": {"x-litellm-tags": "task:triage"}},
], ids=["metadata.tags", "tags", "x-litellm-tags"])
def test_tagged_requests_reach_the_tagged_deployment(proxy, provider, channel):
    assert {ask(proxy, provider, "app-llm", **channel) for _ in range(8)} == {"cheap-model"}


def test_unknown_tag_reaches_the_default_deployment(proxy, provider):
    channel = {"extra_body": {"metadata": {"tags": ["task:unknown"]}}}
    assert {ask(proxy, provider, "app-llm", **channel) for _ in range(8)} == {"ref-model"}


def test_pre_call_hook_from_a_file_beside_the_config_rewrites_the_model(proxy, provider):
    assert ask(proxy, provider, "gated") == "cheap-model"


def test_spend_row_built_by_the_proxy_loads_into_litellms_table(proxy, provider, spendlogs_db):
    prompt = [{"role": "user", "content": "Extract the order number: #1234"}]
    reply = proxy.client().chat.completions.create(model="app-llm", messages=prompt,
                                                   extra_body={"metadata": {"tags": ["task:triage"]}})
    row = proxy.spend_record(reply.id)["spend_row"]
    with psycopg.connect(spendlogs_db) as conn:
        assert insert_spend_rows(conn, [row]) == 1  # every field the proxy writes is a column of the table
        back = conn.execute(f'SELECT model, model_group, request_tags, proxy_server_request FROM "{SPENDLOGS_TABLE}"'
                            ).fetchone()
    model, group, tags, request = back
    assert (model, group) == ("openai/cheap-model", "app-llm")
    assert "task:triage" in tags
    assert request["messages"] == prompt  # the prompt is in proxy_server_request, not in `messages`


def test_proxy_refuses_to_start_without_a_master_key(litellm_proxy):
    with pytest.raises(RuntimeError, match="no master key is set"):
        litellm_proxy({"model_list": []}, env={"LITELLM_MASTER_KEY": None})
