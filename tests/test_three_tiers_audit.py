"""Issue 16's 3-tier scenario as a real audit: 4 easy task types, one only the middle tier can do, one only the
reference can; 150 requests each, reference answers in the log. The audit must decide each one right with at
most half the calls a fixed 100 samples per task per tier sends, counted by the loopback server."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from tests.conftest import write_jsonl
from tiertool.cli import app

runner = CliRunner()

# task -> (small's pass rate, middle's): a request passes on a tier when its latent difficulty is below the rate
RATES = {**{f"easy-{i}": (0.98, 0.99) for i in range(4)}, "middle-only": (0.55, 0.98), "reference-only": (0.45, 0.65)}
RIGHT = {**{f"easy-{i}": "small" for i in range(4)}, "middle-only": "middle", "reference-only": "large"}
PER_TASK = 150


def _project(tmp_path, server_factory, sample: str):
    rng = random.Random(16)
    rows, truth = [], {}
    for task in RATES:
        for i in range(PER_TASK):
            prompt = f"{task}: question {i}?"
            truth[prompt] = (task, rng.random(), f"answer {task} {i}")
            rows.append({"id": f"{task}-{i}", "model": "big", "tags": [f"task:{task}"],
                         "messages": [{"role": "user", "content": prompt}],
                         "response": {"choices": [{"message": {"role": "assistant", "content": truth[prompt][2]}}]},
                         "usage": {"prompt_tokens": 1000, "completion_tokens": 200}})
    log = write_jsonl(tmp_path / "log.jsonl", rows)

    def answer(model: str, messages: list[dict]) -> str:
        task, u, right = truth[messages[-1]["content"]]
        return right if u < RATES[task][0 if model.endswith("tiny") else 1] else "something else"

    server = server_factory(answer)
    tier = f"api_base: {server.api_base}, api_key_env: TIERTOOL_TEST_KEY"
    (tmp_path / "tiertool.yaml").write_text(f"""
tiers:
  - {{name: small, model: openai/tiny, {tier}}}
  - {{name: middle, model: openai/mid, {tier}}}
  - {{name: large, model: openai/big, {tier}}}
prices:
  openai/tiny: {{input: 0.15, output: 0.6}}
  openai/mid: {{input: 1.0, output: 4.0}}
  openai/big: {{input: 5.0, output: 15.0}}
quality: {{target: 0.85, confidence: 0.95}}
tasks: {{default: {{scorer: exact}}}}
sample: {sample}
""", encoding="utf-8")
    return log, server


def _run(tmp_path, server_factory, monkeypatch, sample: str) -> tuple[dict[str, str], int]:
    tmp_path.mkdir(exist_ok=True)
    log, server = _project(tmp_path, server_factory, sample)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(log)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    tasks = json.loads(runner.invoke(app, ["report", "--format", "json"]).output)["tasks"]
    return {t["task"]: t["tier"] for t in tasks}, len(server.calls)


def test_three_tiers_are_decided_right_with_at_most_half_the_calls_of_a_fixed_100(tmp_path, server_factory,
                                                                                 env_key, monkeypatch):
    fixed, fixed_calls = _run(tmp_path / "fixed", server_factory, monkeypatch, "{sequential: false, per_task: 100}")
    assert fixed_calls == 100 * len(RATES) * 2  # every task on both cheaper tiers; the reference is in the log
    chosen, calls = _run(tmp_path / "policy", server_factory, monkeypatch, "{round: 20}")
    assert chosen == RIGHT
    assert calls <= fixed_calls / 2, (calls, fixed_calls)
