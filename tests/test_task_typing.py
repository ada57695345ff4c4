"""How each request gets its task type, and how much of the traffic could be typed."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner

from tests import ingest_samples as S
from tiertool.cli import app
from tiertool.ingest import read_logs

runner = CliRunner()
TEMPLATES = [
    ("You are a support agent. Classify the ticket as billing, bug or shipping. Reply with one word.",
     "Ticket #{n}: {who} says the {thing} is broken since {d} days"),
    ("Extract the order as JSON with keys id, items, total.",
     "Order text: {who} ordered {d} x {thing} for ${n}.00, please ship to {who} street {d}"),
    ("", "Translate into French, keeping the tone formal and the names unchanged: Dear {who}, your {thing} "
         "will arrive in {d} days."),
]
WORDS = ["Alice", "Bob", "Chandra", "Dmitri", "Eve", "Fatima", "Gustavo"]
THINGS = ["printer", "laptop", "garden hose", "kettle", "bicycle", "phone charger"]


def templated(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        system, user = TEMPLATES[i % 3]
        text = user.format(n=rng.randint(1, 99999), who=rng.choice(WORDS), thing=rng.choice(THINGS),
                           d=rng.randint(1, 30))
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
        rows.append({"model": "gpt-4o", "messages": msgs, "id": f"q{i}"})
    return rows


def test_untagged_requests_cluster_into_named_template_groups(tmp_path):
    path = S.jsonl(tmp_path / "chat.jsonl", templated(random.Random(1), 300))
    reader = read_logs([path])
    reqs = list(reader)
    names = {r.task for r in reqs}
    assert len(names) == 3, names
    assert all(r.task_source == "inferred" for r in reqs)
    assert all(n.startswith("auto:") for n in names)
    assert "auto:support-agent-classify-ticket" in names and "auto:extract-order-json-keys" in names
    by_template = {}
    for i, r in enumerate(reqs):
        by_template.setdefault(i % 3, set()).add(r.task)
    assert all(len(v) == 1 for v in by_template.values())  # no template split, none merged
    groups = {g.name: g for g in reader.typer.groups}
    assert all(g.requests == 100 and 0.8 <= g.similarity_min <= g.similarity_mean <= 1 for g in groups.values())
    # the same log gives the same names
    assert {r.task for r in read_logs([path])} == names


def test_typing_order_and_shares(tmp_path):
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Write a haiku about rain"}]}
    rows = [
        {**base, "tags": ["task:tagged"], "metadata": {"task": "meta", "team": "t1"}},  # tag beats metadata
        {**base, "metadata": {"task": "meta", "team": "t2"}},
        *[{**base, "metadata": {"team": "t3"}}] * 3,  # inferred
        {**base, "messages": [{"role": "assistant", "content": "x"}]},  # nothing to cluster on
    ]
    path = S.jsonl(tmp_path / "chat.jsonl", rows)
    got = [(r.task, r.task_source) for r in read_logs([path])]
    assert got[:3] == [("tagged", "tag"), ("meta", "metadata"), ("auto:write-haiku-about-rain", "inferred")]
    assert got[5] == ("untagged", "none")
    assert [r.task for r in read_logs([path], group_by="metadata.team")][:3] == ["t1", "t2", "t3"]
    out = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).output)
    shares = {t["source"]: t["requests"] for t in out["typing"]}
    assert shares == {"tag": 1, "metadata": 1, "inferred": 3, "none": 1}
    inferred = next(t for t in out["tasks"] if t["typed_by"] == "inferred")
    assert inferred["similarity_mean"] == 1.0 and inferred["requests"] == 3


def test_free_form_prompts_are_not_made_into_task_types(tmp_path):
    rng = random.Random(3)
    words = ["apple", "river", "quantum", "tax", "poem", "engine", "soup", "galaxy", "law", "piano", "moss"]
    rows = [{"model": "gpt-4o", "messages": [{"role": "user", "content": " ".join(rng.choices(words, k=8))}]}
            for _ in range(60)]
    path = S.jsonl(tmp_path / "chat.jsonl", rows)
    out = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).output)
    assert out["tasks"] == [{"task": "untagged", "requests": 60, "share": 1.0, "replayable": 60, "typed_by": "none"}]
    assert out["typing"] == [{"source": "none", "how": "untyped", "requests": 60, "share": 1.0}]


def test_inspect_text_shows_typing_tightness_spend_and_span(tmp_path):
    path = S.jsonl(tmp_path / "chat.jsonl", templated(random.Random(2), 30))
    r = runner.invoke(app, ["inspect", str(path)])
    assert r.exit_code == 0, r.output
    assert "task typing: inferred from template 100.0%" in r.output
    assert "similarity mean" in r.output
    assert "computed from litellm's price map" in r.output
    assert "models: gpt-4o (30)" in r.output
