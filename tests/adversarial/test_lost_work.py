"""Issue 12, case 6 (lost or wrong work): a log that repeats request ids keeps every line's result, and OpenAI
batch files that reuse custom_ids are joined within each input/output pair, never across batches."""

from __future__ import annotations

import json
from pathlib import Path

from tests.adversarial.kit import audit, config, report_json
from tests.conftest import make_sample, small_answerer, write_jsonl
from tiertool import read_logs
from tiertool.store import load_audit


def test_repeated_request_ids_keep_every_lines_result(tmp_path, server_factory, key):
    """80 lines sharing four request ids: 80 results (one per line and tier), not 4, and counts that agree."""
    rows, small = make_sample.synth_log(80, seed=3, weights={"ticket-triage": 1.0})
    for i, row in enumerate(rows):
        row["request_id"] = f"dup-{i % 4}"
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    config(tmp_path, server.api_base, per_task=100)
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    results = [x for x in load_audit(tmp_path / ".tiertool").results if x.tier == "small"]
    assert len(results) == len({x.source for x in results}) == 80
    assert len(server.calls) == len({m[-1]["content"] for _, m in server.calls}) == 80
    data = report_json(tmp_path)
    assert [t["sampled"] for t in data["tasks"]] == [80] and "80 sampled" in r.output


def _batch(folder: Path, name: str, n: int) -> tuple[Path, Path]:
    """An OpenAI Batch API input and output file whose custom_ids are request-1..n, as the docs' examples."""
    inputs = [{"custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
               "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": f"{name} question {i}"}]}}
              for i in range(1, n + 1)]
    outputs = [{"id": f"batch_req_{name}{i}", "custom_id": f"request-{i}", "error": None,
                "response": {"status_code": 200, "request_id": f"{name}{i}", "body": {
                    "id": f"chatcmpl-{name}{i}", "object": "chat.completion", "created": 1790000000,
                    "model": "gpt-4o-2024-08-06",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": f"{name} answer {i}"}}],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}}}
               for i in range(n, 0, -1)]
    return (write_jsonl(folder / f"{name}_input.jsonl", inputs), write_jsonl(folder / f"{name}_output.jsonl", outputs))


def test_batch_custom_ids_are_joined_within_their_own_file_pair(tmp_path):
    """Two batches, both numbered request-1..5, given as a glob lists them (inputs, then outputs): each prompt
    gets its own batch's answer."""
    a_in, a_out = _batch(tmp_path, "alpha", 5)
    b_in, b_out = _batch(tmp_path, "beta", 5)
    reader = read_logs([a_in, b_in, a_out, b_out])
    joined = {req.messages[-1]["content"]: req.output for req in reader}
    assert reader.stats.joined == 10 and reader.stats.skipped == 0
    assert joined == {f"{b} question {i}": f"{b} answer {i}" for b in ("alpha", "beta") for i in range(1, 6)}
    assert json.dumps(reader.stats.notes) == "[]"
