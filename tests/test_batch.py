"""`tiertool audit --batch`: the cheaper tier's calls go through the loopback's OpenAI Batch API or Anthropic
Message Batches (tests/loopback_batch.py): submit, poll, resume after SIGKILL, expired, failed and missing items,
a failed batch, batch prices in the plan and the spend."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.adversarial.kit import KEY, KEY_ENV, audit, audit_args, config, decisions, no_traceback, small_log, spawn
from tests.conftest import ROOT, kill_when
from tests.loopback import Fail
from tests.loopback_batch import BatchAPI
from tiertool.pricing.prices import lookup
from tiertool.store import load_audit

FAST = ", batch: true, batch_poll: 0.05"
SMALL = "openai/gpt-4o-mini"


def _prompt(messages: list[dict]) -> str:
    """The last user text, as a chat message (a string) or an Anthropic one (text blocks)."""
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def log(tmp_path):
    return small_log(tmp_path)


def _answerer(small: dict[str, str], fail=None):
    def answer(model: str, messages: list[dict]) -> str:
        prompt = _prompt(messages)
        if fail is not None:
            fail(prompt)
        return small.get(prompt, "I don't know")
    return answer


def _small_calls(server, model: str = "gpt-4o-mini") -> tuple[int, int]:
    """(answered in a batch, answered per call) for the small model."""
    batch = sum(1 for path, body in server.requests if path.startswith("batch:") and body["model"] == model)
    per_call = sum(1 for path, body in server.requests if not path.startswith("batch:") and body["model"] == model)
    return batch, per_call


def _batches(folder: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(folder / ".tiertool" / "cache.sqlite") as db:
        return [(i, len(json.loads(k)), e) for i, k, e in db.execute("SELECT id, keys, ended FROM batches")]


def test_submit_poll_and_cache(tmp_path, log, keyed, server_factory):
    """One batch for the small tier (one round), polled until done, cached: a re-run pays nothing; decisions are
    those of the per-call path on the same answers; the spend is the batch price of the ledger."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server, delay_polls=2)
    config(tmp_path, server.api_base, replay=FAST)
    r = audit(tmp_path, path)
    assert r.exit_code == 0, r.output
    no_traceback(r)
    assert "batch API at batch prices" in r.output
    assert f"tier 'small': batch batch_000001 of 40 calls submitted to api_base {server.api_base}" in r.output
    assert len(api.submissions) == 1 and api.polls == 3
    batch, per_call = _small_calls(server)
    assert batch == 40 and per_call == 0  # 4 task types x 10
    assert "40 model calls sent, 0 cache hits, 0 failed" in r.output
    assert _batches(tmp_path) == [("batch_000001", 40, 1)]
    price = lookup(SMALL).batched()
    assert price.input == pytest.approx(0.075e-6) and "batch price" in price.source
    spend = load_audit(tmp_path / ".tiertool").meta.spend_usd
    assert spend == pytest.approx(server.billed(price.input, price.output))
    assert spend == pytest.approx(server.billed(lookup(SMALL).input, lookup(SMALL).output) / 2)
    ours = decisions(tmp_path)

    again = audit(tmp_path, path)
    assert again.exit_code == 0 and "0 model calls sent, 40 cache hits" in again.output, again.output
    assert len(api.submissions) == 1

    plain = tmp_path / "per-call"
    plain.mkdir()
    config(plain, server.api_base)
    assert audit(plain, path).exit_code == 0
    assert decisions(plain) == ours


def test_anthropic_message_batches(tmp_path, log, keyed, server_factory):
    """An Anthropic tier: one Message Batch, litellm's translation of each call as its params; the 10 items that
    expired are sent again per call (Anthropic's Messages route)."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server, expire_after=30)
    config(tmp_path, server.api_base, replay=FAST, small_model="anthropic/claude-haiku-4-5")
    yaml = tmp_path / "tiertool.yaml"  # Anthropic's api_base is the host root
    yaml.write_text(yaml.read_text().replace(f"claude-haiku-4-5, api_base: {server.api_base}",
                                             f"claude-haiku-4-5, api_base: {server.api_base[:-3]}"))
    r = audit(tmp_path, path)
    assert r.exit_code == 0, r.output
    assert api.submissions == ["msgbatch_000001"]
    assert _small_calls(server, "claude-haiku-4-5") == (30, 10)
    assert "40 model calls sent, 0 cache hits, 0 failed" in r.output
    params = next(body for p, body in server.requests if p.startswith("batch:"))
    assert params["max_tokens"] > 0 and isinstance(params["messages"][0]["content"], list)
    assert "system" in params  # the system message moved where Anthropic wants it
    assert all(t != "undecided" for _, t in decisions(tmp_path).values())


def test_resume_after_sigkill_polls_the_same_batch(tmp_path, log, server_factory):
    """A real `tiertool audit --batch` killed (SIGKILL) while it polls; the re-run polls the recorded batch and
    completes: the server saw one batch submission and answered each call once."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server)
    api.held = True
    config(tmp_path, server.api_base, replay=FAST)
    proc = spawn(audit_args(tmp_path, path, "--quiet"))
    kill_when(proc, lambda: bool(api.submissions) and api.polls >= 3, timeout=180)  # polling, batch held
    assert api.submissions == ["batch_000001"]
    assert _batches(tmp_path) == [("batch_000001", 40, 0)]  # recorded before polling, still open

    api.held = False
    rerun = spawn(audit_args(tmp_path, path))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    no_traceback(err)
    assert "tier 'small': resuming batch batch_000001 (40 calls), submitted by an earlier run" in err
    assert api.submissions == ["batch_000001"]
    assert _small_calls(server) == (40, 0)
    assert "40 model calls sent, 0 cache hits, 0 failed" in out
    assert _batches(tmp_path) == [("batch_000001", 40, 1)]


def test_polls_that_fail_are_tried_again_then_resumed(tmp_path, log, keyed, server_factory):
    """A failed status request is tried again (up to replay.max_attempts, 2 here, in a row); when they all fail,
    the tier stops with one line naming the batch, which stays on record: a re-run polls it."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server)
    config(tmp_path, server.api_base, replay=FAST)
    api.poll_errors = 1
    assert audit(tmp_path, path).exit_code == 0
    assert _batches(tmp_path) == [("batch_000001", 40, 1)]

    fresh = tmp_path / "again"
    fresh.mkdir()
    config(fresh, server.api_base, replay=FAST)
    api.poll_errors = 2
    r = audit(fresh, path)
    assert r.exit_code == 1, r.output
    no_traceback(r)
    line = next(x for x in r.output.splitlines() if "could not be audited" in x)
    assert "tier 'small': batch batch_000002 at api_base" in line and "could not be polled" in line
    assert "re-run to poll it again" in line
    assert _batches(fresh) == [("batch_000002", 40, 0)]
    # the re-run samples other requests (--seed 1): it polls the open batch for the calls it shares with it,
    # caches the batch's other answers too (paid for), and submits one batch for the rest
    rerun = audit(fresh, path, "--seed", "1")
    assert rerun.exit_code == 0, rerun.output
    shared = int(rerun.output.split("resuming batch batch_000002 (")[1].split(" ")[0])
    assert 0 < shared < 40
    assert api.submissions == ["batch_000001", "batch_000002", "batch_000003"]
    assert len(api.batches["batch_000003"].items) == 40 - shared
    again = audit(fresh, path)  # the first sample again: every answer is cached, nothing is submitted
    assert again.exit_code == 0 and "0 model calls sent, 40 cache hits" in again.output, again.output
    assert len(api.submissions) == 3 and _small_calls(server) == (120 - shared, 0)


def test_expired_and_missing_items_are_sent_per_call(tmp_path, log, keyed, server_factory):
    """The batch expires after 25 items and 3 answered ones are missing from the output: those 18 calls go
    through the per-call path (as its retries would), at the list price, and the audit completes."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server, expire_after=25)
    config(tmp_path, server.api_base, replay=FAST)
    keys = {}

    def lose_three(h, method, p, raw):  # pick the first three custom ids of the uploaded file
        if method == "POST" and p == "/v1/batches" and not keys:
            lines = api.files[json.loads(raw)["input_file_id"]].decode().splitlines()
            api.lose = tuple(json.loads(x)["custom_id"] for x in lines[:3])
            keys["lost"] = api.lose
        return False
    server.routes.insert(0, lose_three)
    r = audit(tmp_path, path)
    assert r.exit_code == 0, r.output
    assert len(api.submissions) == 1
    assert _small_calls(server) == (25, 18)
    assert "40 model calls sent, 0 cache hits, 0 failed" in r.output
    meta = load_audit(tmp_path / ".tiertool").meta
    b, p = lookup(SMALL).batched(), lookup(SMALL)
    # 22 answers kept at the batch price (10 + 5 tokens each), 18 per call at the list price, the 3 lost ones
    # at their worst case (unconfirmed: nothing says what they cost), the 15 expired ones at nothing
    assert meta.unconfirmed == 3 and meta.unconfirmed_usd > 0
    assert meta.spend_usd - meta.unconfirmed_usd == pytest.approx(22 * (10 * b.input + 5 * b.output)
                                                                  + 18 * (10 * p.input + 5 * p.output))


def test_failed_items(tmp_path, log, keyed, server_factory):
    """A 400 item is a failed call (counted, listed, exit 1: no quality verdict rests on it); a 500 item is sent
    again per call, as the per-call path retries a 500, and answered there."""
    path, small = log
    seen: dict[str, int] = {}

    def number(prompt: str) -> int:
        return int(prompt.rsplit("[#", 1)[1].rstrip("]"))

    def fail(prompt: str) -> None:
        seen[prompt] = seen.get(prompt, 0) + 1
        if number(prompt) % 7 == 0:
            raise Fail(400, "this prompt is refused", code="invalid_prompt")
        if number(prompt) % 7 == 1 and seen[prompt] == 1:
            raise Fail(500, "overloaded", kind="server_error")

    server = server_factory(_answerer(small, fail))
    api = BatchAPI(server)
    config(tmp_path, server.api_base, replay=FAST)
    r = audit(tmp_path, path)
    asked = [number(p) for p in seen]
    refused, flaky = sum(n % 7 == 0 for n in asked), sum(n % 7 == 1 for n in asked)
    assert len(asked) == 40 and refused and flaky
    assert r.exit_code == 1, r.output
    no_traceback(r)
    assert f"could not be audited: {refused} calls failed after their retries" in r.output
    assert f"{40 - refused} model calls sent, 0 cache hits, {refused} failed" in r.output
    assert len(api.submissions) == 1
    assert _small_calls(server) == (40 - refused - flaky, flaky)  # answered in the batch, then per call
    assert sum(v == 2 for v in seen.values()) == flaky  # each flaky one asked twice, the refused ones once
    assert load_audit(tmp_path / ".tiertool").meta.failed == refused


def test_whole_batch_failure_is_one_line(tmp_path, log, keyed, server_factory):
    path, small = log
    server = server_factory(_answerer(small))
    BatchAPI(server, fail_batch="the input file has 1 invalid line")
    config(tmp_path, server.api_base, replay=FAST)
    r = audit(tmp_path, path)
    assert r.exit_code == 1, r.output
    no_traceback(r)
    line = next(x for x in r.output.splitlines() if "could not be audited" in x)
    assert "tier 'small'" in line and "batch batch_000001 failed (the input file has 1 invalid line)" in line
    assert _small_calls(server) == (0, 0)
    assert _batches(tmp_path) == [("batch_000001", 40, 1)]  # ended: a re-run submits anew


def test_plan_uses_batch_prices(tmp_path, log, keyed, server_factory):
    """--dry-run: the small tier's estimate with --batch is its batch price, half gpt-4o-mini's list price."""
    path, small = log
    server = server_factory(_answerer(small))
    config(tmp_path, server.api_base)

    def small_usd(*args: str) -> float:
        r = audit(tmp_path, path, "--dry-run", *args)
        assert r.exit_code == 0, r.output
        line = next(x for x in r.output.splitlines() if x.startswith("  small ("))
        return float(line.split("; ~$")[1].split(" ")[0])

    assert small_usd("--batch") == pytest.approx(small_usd() / 2, rel=0.01)
    assert server.requests == []


def test_one_batch_per_round(tmp_path, log, keyed, server_factory):
    """A sequential audit: each round that needs the small tier's answers sends one batch, of that round's calls."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server)
    yaml = config(tmp_path, server.api_base, replay=FAST)
    yaml.write_text(yaml.read_text().replace("sample: {sequential: false, per_task: 10}",
                                             "sample: {round: 5, max_per_task: 15}"))
    r = audit(tmp_path, path)
    assert r.exit_code == 0, r.output
    rounds = [line for line in r.output.splitlines() if line.startswith("round ")]
    fetched = [int(line.split(", ")[1].split(" ")[0]) for line in rounds]
    assert len(rounds) >= 2 and len(api.submissions) == sum(n > 0 for n in fetched)
    assert [len(b.items) for b in api.batches.values()] == [n for n in fetched if n]
    assert _small_calls(server)[1] == 0


def test_budget_holds_batch_worst_cases(tmp_path, log, keyed, server_factory):
    """--budget: a batch holds its items' worst cases (at the batch price) before it is submitted; those that do
    not fit are not sent, and the audit says so."""
    path, small = log
    server = server_factory(_answerer(small))
    api = BatchAPI(server)
    config(tmp_path, server.api_base, replay=FAST)
    r = audit(tmp_path, path, "--budget", "0.01")
    assert r.exit_code == 1, r.output
    assert "--budget $0.0100 reached" in r.output
    sent = len(api.batches["batch_000001"].items)
    assert 0 < sent < 40 and f"{sent} model calls sent" in r.output
    assert load_audit(tmp_path / ".tiertool").meta.spend_usd <= 0.01


def test_sample_costs_use_batch_prices(tmp_path):
    """The policy's cost of one more sample (decide/stakes.py) prices the cheaper tier's call at its batch price
    under --batch; the reference's call stays at its list price."""
    from tiertool.config import load_config
    from tiertool.decide.stakes import arms
    from tiertool.records import Key, Usage

    volume = {Key("t", "openai/gpt-4o", False, "2026-10-01"): Usage(requests=100, input_tokens=100_000,
                                                                     output_tokens=20_000)}
    costs = {}
    for batch in (False, True):
        config(tmp_path, "http://127.0.0.1:9/v1", replay=", batch: true" if batch else "")
        costs[batch] = arms(volume, load_config(tmp_path / "tiertool.yaml"), ["t"], 30.0)[0].cost_usd
    p = lookup(SMALL)
    assert costs[False] == pytest.approx(p.cost(1000, 200))  # the log's reference answers: only the small call
    assert costs[True] == pytest.approx(p.batched().cost(1000, 200)) == pytest.approx(costs[False] / 2)


def test_unsupported_provider_is_refused(tmp_path, log, keyed, server_factory):
    path, small = log
    server = server_factory(_answerer(small))
    config(tmp_path, server.api_base, replay=FAST, small_model="mistral/mistral-small-latest")
    r = audit(tmp_path, path)
    assert r.exit_code != 0
    no_traceback(r)
    assert "tier 'small' (mistral/mistral-small-latest) is on provider 'mistral'" in r.output
    assert server.requests == []


def test_loopback_batch_objects_match_the_openai_sdk(server_factory):
    """The loopback's files and batches parse as the OpenAI SDK's own types (what litellm reads them with)."""
    from openai.types import Batch, FileObject

    server = server_factory(lambda model, messages: "ok")
    api = BatchAPI(server, expire_after=1)
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}
    api.files["file-1"] = (json.dumps(line) + "\n" + json.dumps({**line, "custom_id": "b"}) + "\n").encode()
    batch = api._create_openai({"input_file_id": "file-1"})
    assert Batch.model_validate(api._openai(batch)).status == "in_progress"
    ended = Batch.model_validate(api._openai(api._poll(batch.id)))
    assert (ended.status, ended.request_counts.completed, ended.request_counts.failed) == ("expired", 1, 1)
    assert FileObject.model_validate(api._upload(*_multipart(b"{}\n"))).purpose == "batch"


def test_loopback_batch_objects_match_the_anthropic_sdk(tmp_path):
    """The loopback's Message Batches and results parse as the Anthropic SDK's types. The SDK is not a test
    dependency: this runs where the producers' venv holds it (tests/fixtures/producers/make_anthropic.py)."""
    python = Path("/work/venvs/sdk/bin/python")
    if not python.exists():
        pytest.skip("the anthropic SDK is not installed here (producers' venv /work/venvs/sdk absent)")
    script = tmp_path / "check.py"
    script.write_text("""
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from tests.loopback import Fail, LoopbackLLM
from tests.loopback_batch import BatchAPI

def answer(model, messages):
    if messages[-1]["content"] == "bad":
        raise Fail(400, "refused")
    return "ok"

api = BatchAPI(LoopbackLLM(answer), expire_after=2)
params = {"model": "claude-haiku-4-5", "max_tokens": 10}
b = api._create_anthropic({"requests": [{"custom_id": c, "params": {**params, "messages": [
    {"role": "user", "content": c}]}} for c in ("good", "bad", "late")]})
print(MessageBatch.model_validate(api._anthropic(b)).processing_status)
api._poll(b.id)
print(MessageBatch.model_validate(api._anthropic(b)).request_counts.to_json(indent=None))
print([MessageBatchIndividualResponse.model_validate(r).result.type for r in b.results])
""")
    out = subprocess.run([str(python), str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    status, counts, kinds = out.stdout.splitlines()
    assert status == "in_progress" and kinds == "['succeeded', 'errored', 'expired']"
    assert json.loads(counts) == {"canceled": 0, "errored": 1, "expired": 1, "processing": 0, "succeeded": 1}


def _multipart(data: bytes) -> tuple[str, bytes]:
    boundary = "tiertoolboundary"
    body = (f"--{boundary}\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            f"--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"b.jsonl\"\r\n"
            f"content-type: application/jsonl\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body
