"""Issue 12, case 2: `--budget` is a hard cap on what the provider bills, whatever arrives: timeouts, bodies cut
short, CJK prompts, models priced only in `prices:`. The provider's side of the bill is the loopback's ledger."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversarial.kit import USD_IN, USD_OUT, audit, config, report_json, small_log
from tests.conftest import small_answerer
from tests.loopback import Answer, Faults, LoopbackLLM
from tiertool.config import Replay, Tier
from tiertool.records import Call
from tiertool.replay.cache import Cache
from tiertool.replay.engine import Replayer

CJK = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事"


def billed_like_a_tokenizer(model: str, messages: list[dict]) -> Answer:
    """The provider's count: a quarter token per ASCII character, one and a half per other character (CJK runs
    at one to two), four per message; a long answer (capped at the request's max_tokens by the server)."""
    text = "".join(str(m.get("content")) for m in messages)
    ascii_chars = sum(c.isascii() for c in text)
    tokens = math.ceil(ascii_chars / 4 + 1.5 * (len(text) - ascii_chars)) + 4 * len(messages)
    return Answer(text="答案 " * 20, input_tokens=tokens, output_tokens=16_000)


def _calls(tier: Tier, prompts: list[str], max_tokens: int | None) -> list[Call]:
    params = {"max_tokens": max_tokens} if max_tokens else {}
    return [Call.to(tier, ({"role": "user", "content": p},), params) for p in prompts]


def test_timeouts_and_bodies_cut_short_stay_charged_at_their_worst_case(tmp_path, server_factory, key):
    """A slow-drip body (past replay.timeout) and a truncated one were made, so the provider bills them:
    the budget keeps them at their worst case, and stops sending before the provider's bill passes the cap."""
    server = server_factory(billed_like_a_tokenizer, Faults(drip=0.5, drip_s=4, truncate=0.5, seed=1))
    tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=server.api_base, api_key_env="TIERTOOL_TEST_KEY")
    calls = _calls(tier, [f"question {i}: {'x' * 400}" for i in range(24)], 200)
    one = 110 * USD_IN + 200 * USD_OUT  # about what each billed answer costs
    cap = 6 * one
    replayer = Replayer(Cache(tmp_path / "c.sqlite"), Replay(timeout=1, max_attempts=2, backoff=0.01,
                                                            concurrency=4), budget=cap)
    replayer.run(calls)
    provider = server.billed(USD_IN, USD_OUT)
    assert provider <= cap
    assert 0 < len(server.ledger) < 24  # it sent some, then held back what could not fit
    s = replayer.stats
    assert s.unconfirmed == len(server.ledger) and s.spend >= provider  # charged at least what was billed
    assert s.over_budget > 0 and s.sent == 0


def test_a_model_priced_only_in_prices_is_priced_in_the_plan_the_budget_and_the_savings(tmp_path, server_factory,
                                                                                          key):
    """A private model priced only in `prices:`: the plan shows its cost, --budget sends its calls (it is not
    'unpriced, never sent'), and the savings price it."""
    log, small = small_log(tmp_path)
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base, small_model="openai/acme-private-7b",
           extra="prices:\n  acme-private-7b: {input: 0.05, output: 0.10}")
    r = audit(tmp_path, log, "--budget", "5")
    assert r.exit_code == 0, r.output
    plan = next(x for x in r.output.splitlines() if x.strip().startswith("small (openai/acme-private-7b)"))
    assert "no price" not in plan and "~$" in plan and "(at most $" in plan
    assert "estimated total: " in r.output and "estimated total: unknown" not in r.output
    data = report_json(tmp_path)
    assert data["audit"]["calls"] == len(server.calls) == 40
    assert "openai/acme-private-7b" not in data["savings"]["unpriced_models"]
    moved = [t for t in data["tasks"] if t["tier"] == "small"]
    assert moved and all(t["projected_usd"] < t["current_usd"] for t in moved)


@st.composite
def _case(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 8))
    prompts = [draw(st.text(alphabet=st.sampled_from(CJK + "abc xyz?"), min_size=1, max_size=300))
               + f" #{i}" for i in range(n)]
    shares = draw(st.lists(st.floats(0, 1), min_size=5, max_size=5))
    total = sum(shares) or 1.0
    drip, truncate, null, html, error = (x / total * draw(st.floats(0, 1)) for x in shares)
    return {"prompts": prompts, "max_tokens": draw(st.sampled_from([None, 64, 4000])),
            "cap": draw(st.floats(0, 0.05)), "concurrency": draw(st.integers(1, 4)),
            "faults": Faults(drip=drip, drip_s=1.2, truncate=truncate, null_content=null, html=html,
                             server_error=error, seed=draw(st.integers(0, 99)))}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=_case())
def test_budget_property_the_providers_bill_never_passes_the_cap(tmp_path_factory, key, case):
    """Whatever the prompts (CJK or not), the faults (slow drip past the deadline, bodies cut short, null
    content, HTML pages, 500s), max_tokens given or not, and the concurrency: the provider never bills more
    than --budget, and tiertool's own ledger never shows less than the provider billed."""
    with LoopbackLLM(billed_like_a_tokenizer, case["faults"]) as server:
        tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=server.api_base,
                    api_key_env="TIERTOOL_TEST_KEY")
        replayer = Replayer(Cache(tmp_path_factory.mktemp("budget") / "c.sqlite"),
                            Replay(timeout=0.5, max_attempts=2, backoff=0.01, concurrency=case["concurrency"]),
                            budget=case["cap"])
        replayer.run(_calls(tier, case["prompts"], case["max_tokens"]))
        provider = server.billed(USD_IN, USD_OUT)
    assert provider <= case["cap"] + 1e-12
    assert replayer.stats.spend >= provider - 1e-12
