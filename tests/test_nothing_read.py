"""A log of which nothing could be read is an error (exit 2) in every command that reads logs, naming what the
file holds and how to read it; never a green run. And `inspect` prices batch traffic at the batch price."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_config, write_jsonl
from tiertool.cli import app
from tiertool.ingest.hint import nearest, suggest_map

runner = CliRunner()
HERE = Path(__file__).parent / "fixtures" / "producers"
UNKNOWN = [{"question": f"What is {i} + {i}?", "answer": str(2 * i), "llm": "gpt-4o", "ts": 1767225600 + i}
           for i in range(5)]


def run(*args: str | Path) -> object:
    return runner.invoke(app, [str(a) for a in args])


def test_inspect_names_the_fields_and_the_map_that_would_read_them(tmp_path):
    log = write_jsonl(tmp_path / "own.jsonl", UNKNOWN)
    r = run("inspect", log)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"{log}: no record could be read from 5 line(s)" in r.output
    assert "its first records have the fields question, answer, llm, ts" in r.output
    assert "--map prompt=question,model=llm,response=answer" in r.output
    mapped = run("inspect", log, "--map", "prompt=question,model=llm,response=answer", "--json")
    assert mapped.exit_code == 0 and json.loads(mapped.output)["records"] == 5  # the suggestion reads it


def test_the_nearest_known_format_is_named_with_what_it_lacks(tmp_path):
    rows = [{"custom_id": f"r{i}", "method": "POST", "body": {"model": "gpt-4o", "messages": "hi"}} for i in range(3)]
    r = run("inspect", write_jsonl(tmp_path / "batch.jsonl", rows))
    assert r.exit_code == 2 and "3 x 'messages' must be a list of {role, content} objects" in r.output
    assert "the nearest known format is openai-batch-input (missing url)" in r.output
    assert nearest(["request_id", "spend", "startTime", "model"])[0] == "litellm-spend"
    assert nearest(["colour", "size"]) is None
    assert suggest_map(["id", "user_prompt", "completion_text"]) == "prompt=user_prompt,model='MODEL-NAME'," \
                                                                    "response=completion_text"


@pytest.mark.parametrize("content, expect", [
    (b"", "nothing to read (empty file)"),
    (b"\n\n", "no record could be read from 2 line(s) (2 x empty line)"),
    (b'{"data": [], "total": 0, "page": 1}\n', "API page with no records"),
])
def test_empty_logs_are_errors(tmp_path, content, expect):
    log = tmp_path / "log.jsonl"
    log.write_bytes(content)
    r = run("inspect", log)
    assert r.exit_code == 2 and expect in r.output


def test_audit_writes_no_folder_and_strict_fails_when_nothing_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "tiertool.yaml", "http://127.0.0.1:9")
    log = write_jsonl(tmp_path / "own.jsonl", UNKNOWN)
    for extra in (["--dry-run"], ["--offline"], ["--offline", "--strict"]):
        r = run("audit", log, *extra)
        assert r.exit_code == 2 and "no record could be read" in r.output, (extra, r.output)
        assert not (tmp_path / ".tiertool").exists()
    assert run("inspect", log, "--strict").exit_code == 2


def test_one_unreadable_file_among_good_ones_is_named(tmp_path):
    good = HERE / "litellm_spend_logs.jsonl"
    bad = write_jsonl(tmp_path / "own.jsonl", UNKNOWN)
    r = run("inspect", good, bad)
    assert r.exit_code == 2 and f"{bad}: no record could be read" in r.output and str(good) + ":" not in r.output


def test_monitor_refuses_an_unreadable_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "tiertool.yaml", "http://127.0.0.1:9")
    (tmp_path / "tiers.yaml").write_text("tasks: {ticket-triage: {tier: small}}\n", encoding="utf-8")
    log = write_jsonl(tmp_path / "own.jsonl", UNKNOWN)
    r = run("monitor", log, "--offline")
    assert r.exit_code == 2 and "no record could be read" in r.output


def test_inspect_prices_batch_traffic_at_the_batch_price():
    """The joined OpenAI batch fixture, priced from litellm's price map here: batch input and output prices
    (half the standard ones for these models), cached input at its own price."""
    from tiertool.pricing.prices import price_map

    prices = price_map()
    outputs = [json.loads(line) for name in ("output", "errors")
               for line in (HERE / f"openai_batch_chat_{name}.jsonl").read_text().splitlines()]
    batch = standard = 0.0
    for o in outputs:
        body = o["response"]["body"]
        if "usage" not in body:
            continue
        p, u = prices[body["model"]], body["usage"]
        cached = u["prompt_tokens_details"]["cached_tokens"]
        cached_cost = cached * p["cache_read_input_token_cost"]
        batch += ((u["prompt_tokens"] - cached) * p["input_cost_per_token_batches"] + cached_cost
                  + u["completion_tokens"] * p["output_cost_per_token_batches"])
        standard += ((u["prompt_tokens"] - cached) * p["input_cost_per_token"] + cached_cost
                     + u["completion_tokens"] * p["output_cost_per_token"])
    r = run("inspect", *(HERE / f"openai_batch_chat_{n}.jsonl" for n in ("input", "output", "errors")), "--json")
    assert r.exit_code == 0, r.output
    spend = json.loads(r.output)["spend"]
    assert spend["total_usd"] == pytest.approx(batch) and batch < 0.75 * standard
