"""How each request gets its task type, and how much of the traffic could be typed."""

from __future__ import annotations

import json
import random
from dataclasses import replace

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


def typed(path, **kw) -> tuple[list, object]:
    """The requests with their final task names (inferred groups are named once the log is read)."""
    reader = read_logs([path], **kw)
    reqs = list(reader)
    return [replace(r, task=reader.renames.get(r.task, r.task)) for r in reqs], reader


def test_untagged_requests_cluster_into_named_template_groups(tmp_path):
    path = S.jsonl(tmp_path / "chat.jsonl", templated(random.Random(1), 300))
    reqs, reader = typed(path)
    names = {r.task for r in reqs}
    assert len(names) == 3, names
    assert all(r.task_source == "inferred" for r in reqs)
    assert all(n.startswith("auto:") for n in names)
    assert "auto:support-agent-classify-ticket" in names and "auto:extract-order-json-keys" in names
    by_template = {}
    for i, r in enumerate(reqs):
        by_template.setdefault(i % 3, set()).add(r.task)
    assert all(len(v) == 1 for v in by_template.values())  # no template split, none merged
    groups = {g.name: g for g in reader.typer.kept()}
    assert all(g.requests == 100 and 0.5 <= g.similarity_min <= g.similarity_mean <= 1 for g in groups.values())
    # the same log gives the same names
    assert {r.task for r in typed(path)[0]} == names


def test_templates_with_long_variable_parts_are_found_by_prefix_or_suffix(tmp_path):
    rng = random.Random(4)
    words = ["the", "cat", "dog", "river", "bank", "money", "tax", "law", "poem", "sky", "blue", "fast",
             "house", "car", "tree", "king", "queen", "war"]

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    makers = [lambda: "Summarize the following article in three bullet points:\n\n" + text(300),
              lambda: text(40) + "\n\nAnswer with a single number only.",
              lambda: "Translate to French: " + text(12)]
    rows = [{"model": "gpt-4o", "messages": [{"role": "user", "content": makers[i % 3]()}]} for i in range(90)]
    reqs, reader = typed(S.jsonl(tmp_path / "chat.jsonl", rows))
    got = {}
    for i, r in enumerate(reqs):
        got.setdefault(i % 3, set()).add(r.task)
    assert got == {0: {"auto:summarize-article-three-bullet"}, 1: {"auto:answer-single-number-only"},
                   2: {"auto:translate-french"}}
    tight = {g.name: g.similarity_mean for g in reader.typer.kept()}
    assert tight["auto:translate-french"] < 1.0  # the variable part shows as looser similarity


def test_typing_order_and_shares(tmp_path):
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Write a haiku about rain"}]}
    rows = [
        {**base, "tags": ["task:tagged"], "metadata": {"task": "meta", "team": "t1"}},  # tag beats metadata
        {**base, "metadata": {"task": "meta", "team": "t2"}},
        *[{**base, "metadata": {"team": "t3"}}] * 3,  # inferred
        {**base, "messages": [{"role": "assistant", "content": "x"}]},  # nothing to cluster on
    ]
    path = S.jsonl(tmp_path / "chat.jsonl", rows)
    got = [(r.task, r.task_source) for r in typed(path)[0]]
    assert got[:3] == [("tagged", "tag"), ("meta", "metadata"), ("auto:write-haiku-about-rain", "inferred")]
    assert got[5] == ("untagged", "none")
    assert [r.task for r in typed(path, group_by="metadata.team")[0]][:3] == ["t1", "t2", "t3"]
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
