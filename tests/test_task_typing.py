"""How each request gets its task type, and how much of the traffic could be typed."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests import ingest_samples as S
from tiertool.cli import app
from tiertool.ingest import read_logs
from tiertool.ingest.tasktype import TaskTyper
from tiertool.records import Request

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
    """The requests with their final task names, in log order (the reader gives inferred ones last)."""
    reader = read_logs([path], **kw)
    reqs = sorted(reader, key=lambda r: int(r.source.rsplit(":", 1)[1]))
    return [replace(r, task=reader.renames.get(r.task, r.task)) for r in reqs], reader


def test_untagged_requests_cluster_into_named_template_groups(tmp_path):
    path = S.jsonl(tmp_path / "chat.jsonl", templated(random.Random(1), 300))
    reqs, reader = typed(path)
    names = {r.task for r in reqs}
    assert len(names) == 3, names
    assert all(r.task_source == "template" for r in reqs)
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
    assert got[:3] == [("tagged", "tag"), ("meta", "metadata"), ("auto:write-haiku-about-rain", "template")]
    assert got[5] == ("untagged", "none")
    assert [r.task for r in typed(path, group_by="metadata.team")[0]][:3] == ["t1", "t2", "t3"]
    out = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).output)
    shares = {t["source"]: t["requests"] for t in out["typing"]}
    assert shares == {"tag": 1, "metadata": 1, "template": 3, "none": 1}
    inferred = next(t for t in out["tasks"] if t["typed_by"] == "template")
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


# --- issue 15: order-independent templates that never merge different fixed parts -------------------------

def partition(path, **kw) -> set[frozenset]:
    """The groups of a log as sets of request ids (untyped requests each on their own)."""
    reqs, _ = typed(path, **kw)
    by: dict[str, set] = {}
    for r in reqs:
        by.setdefault(r.task if r.task != "untagged" else f"untagged:{r.id}", set()).add(r.id)
    return {frozenset(v) for v in by.values()}


def chat(rid: str, user: str, system: str = "") -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return {"id": rid, "model": "gpt-4o", "messages": msgs}


def prose(rng: random.Random, n: int) -> str:
    words = ["the", "cat", "dog", "river", "bank", "money", "tax", "law", "poem", "sky", "blue", "fast", "house",
             "car", "tree", "king", "queen", "war", "seven", "owls", "left", "quietly", "before", "noon"]
    return " ".join(rng.choice(words) for _ in range(n))


def mixed_rows(rng: random.Random, n: int) -> list[dict]:
    """Two templates that end alike but start differently, one with a long variable middle, and free-form."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(chat(f"q{i}", f"Question: {prose(rng, 12)}?\nGive the number and a short explanation. Answer:"))
        elif kind == 1:
            out.append(chat(f"q{i}", f"Which option is right?\n{prose(rng, 20)}\nA. {prose(rng, 3)}\nB. "
                                     f"{prose(rng, 3)}\nGive the letter and a short explanation. Answer:"))
        elif kind == 2:
            out.append(chat(f"q{i}", f"Summarize this report:\n{prose(rng, rng.randint(340, 420))}\n"
                                     f"End with one line on the risks."))
        else:
            out.append(chat(f"q{i}", prose(rng, 9)))
    return out


def test_a_shared_suffix_never_joins_prompts_that_start_differently(tmp_path):
    rows = mixed_rows(random.Random(5), 200)
    reqs, reader = typed(S.jsonl(tmp_path / "chat.jsonl", rows))
    got: dict[int, set[str]] = {}
    for i, r in enumerate(reqs):
        got.setdefault(i % 4, set()).add(r.task)
    assert got[0] == {"auto:question-give-number-short"} and got[1] == {"auto:which-option-right"}
    assert got[2] == {"auto:summarize-report"}  # 2,000-2,500 characters: the real end is read
    assert got[3] == {"untagged"}  # free-form prompts are no task type
    fixed = {g.name: g.fixed for g in reader.typer.kept()}
    assert fixed["auto:summarize-report"] == "Summarize this report: … End with one line on the risks."
    assert fixed["auto:question-give-number-short"] == "Question: … Give the number and a short explanation. Answer:"


def test_free_form_prompts_first_do_not_stop_templates_from_forming(tmp_path):
    rng = random.Random(6)
    free = [chat(f"f{i}", f"{prose(rng, 6)} {i}?") for i in range(400)]
    rows = free + templated(random.Random(7), 90)
    reqs, _ = typed(S.jsonl(tmp_path / "chat.jsonl", rows))
    assert {r.task for r in reqs[:400]} == {"untagged"}
    assert len({r.task for r in reqs[400:]}) == 3 and all(r.task_source == "template" for r in reqs[400:])


def test_a_recurring_variant_is_its_own_task_type_and_is_named_by_what_sets_it_apart(tmp_path):
    rng = random.Random(8)
    rows = [chat(f"q{i}", f"Multiple choice questions about {subject}.\n\n{prose(rng, 15)}\nAnswer:")
            for i, subject in enumerate(["anatomy", "astronomy", "tax law"] * 30)]
    reqs, _ = typed(S.jsonl(tmp_path / "chat.jsonl", rows))
    assert [r.task for r in reqs[:3]] == ["auto:multiple-choice-anatomy", "auto:multiple-choice-astronomy",
                                         "auto:multiple-choice-tax-law"]
    assert len({r.task for r in reqs}) == 3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 120), order=st.randoms(use_true_random=False))
def test_shuffling_the_lines_of_a_log_never_changes_the_groups(tmp_path, seed, n, order):
    rows = mixed_rows(random.Random(seed), n) + templated(random.Random(seed), n // 2)
    shuffled = rows[:]
    order.shuffle(shuffled)
    a = partition(S.jsonl(tmp_path / "a.jsonl", rows))
    assert partition(S.jsonl(tmp_path / "b.jsonl", shuffled)) == a


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.randoms(use_true_random=False))
def test_a_sample_smaller_than_the_log_still_gives_the_same_groups_in_any_order(seed, order):
    reqs = [Request(r["id"], "x", "m", tuple(r["messages"])) for r in mixed_rows(random.Random(seed), 160)]

    def groups(rs: list[Request]) -> dict[str, str]:
        typer = TaskTyper(sample_size=40)  # a quarter of the log
        for r in rs:
            typer.observe(r)
        typer.fit()
        out = [typer.assign(r) for r in rs]
        renames = typer.renames()
        return {r.id: renames.get(r.task, r.task) for r in out}

    first = groups(reqs)
    shuffled = reqs[:]
    order.shuffle(shuffled)
    assert groups(shuffled) == first
    assert sum(t.startswith("auto:") for t in first.values()) >= 40  # templates are found from the sample


def test_assign_needs_the_first_pass():
    with pytest.raises(RuntimeError, match="observe every request in a first pass, then fit"):
        TaskTyper().assign(Request("1", "x", "m", ({"role": "user", "content": "hi"},)))


def test_semantic_grouping_types_free_form_prompts_by_topic_with_their_tightness(tmp_path):
    rng = random.Random(9)
    topics = {"code": "python function list sort error bug loop",
              "food": "recipe bake oven flour sugar dinner soup",
              "tax": "tax return deduction income refund filing irs"}
    rows = []
    for i in range(90):
        topic = list(topics)[i % 3]
        words = topics[topic].split()
        rows.append(chat(f"{topic}-{i}", f"{' '.join(rng.sample(words, 4))} {prose(rng, 2)}?"))
    path = S.jsonl(tmp_path / "chat.jsonl", rows)
    assert {r.task for r in typed(path)[0]} == {"untagged"}  # off by default
    reqs, reader = typed(path, semantic=True)
    by_topic: dict[str, set[str]] = {}
    for r in reqs:
        by_topic.setdefault(r.id.split("-")[0], set()).add(r.task)
    assert all(len(v) == 1 and next(iter(v)).startswith("auto:topic-") for v in by_topic.values()), by_topic
    assert len(set().union(*by_topic.values())) == 3
    assert all(g.how == "cluster" and 0 < g.similarity_min <= g.similarity_mean <= 1 for g in reader.typer.kept())
    r = runner.invoke(app, ["inspect", str(path), "--semantic"])
    assert r.exit_code == 0, r.output
    assert "auto:topic-" in r.output and "similarity mean" in r.output


def test_inspect_json_shows_each_inferred_group_s_template_and_requests_carry_it(tmp_path):
    path = S.jsonl(tmp_path / "chat.jsonl", templated(random.Random(3), 30))
    out = json.loads(runner.invoke(app, ["inspect", str(path), "--json"]).output)
    rows = {t["task"]: t for t in out["tasks"]}
    support = rows["auto:support-agent-classify-ticket"]
    assert support["inferred_by"] == "template" and support["template"].startswith("You are a support agent.")
    assert support["template"].endswith("Ticket # #: …")  # the fixed head, and no fixed tail
    reqs, _ = typed(path)
    assert {r.template for r in reqs if r.task == "auto:support-agent-classify-ticket"} == {support["template"]}


# --- the one pass: inference inside the reader, and cheap ---------------------------------------------------

def _span_line(i: int, tagged: bool) -> dict:
    """An OTLP export line with two chat spans: one typed by `app.task` (when `tagged`), one left to inference."""
    def span(sid: str, text: str, task: str | None) -> dict:
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 9,
                 "gen_ai.usage.output_tokens": 2,
                 "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}])}
        if task:
            attrs["app.task"] = task
        return {"traceId": f"{i:032x}", "spanId": sid, "name": "chat gpt-4o", "kind": 3,
                "startTimeUnixNano": "1767225600000000000", "endTimeUnixNano": "1767225601000000000",
                "attributes": [S._attr(k, v) for k, v in attrs.items()], "status": {"code": 1}}
    spans = [span(f"a{i}", f"Rate this review from 1 to 5 stars:\nreview {i} was fine", None),
             span(f"b{i}", f"hello {i}", "greeting" if tagged else None)]
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "x"},
                                                                               "spans": spans}]}]}


def _mixed_logs(tmp_path) -> list:
    rng = random.Random(11)
    rows = mixed_rows(rng, 80) + [{**r, "metadata": {"task": "tagged"}} for r in templated(rng, 30)]
    rng.shuffle(rows)
    rows.append({"model": "gpt-4o", "messages": [{"role": "assistant", "content": "no user text"}]})
    batch_in, batch_out = S.openai_batch(tmp_path)
    return [S.jsonl(tmp_path / "chat.jsonl", rows), S.jsonl(tmp_path / "spans.jsonl",
                                                            [_span_line(i, i % 2 == 0) for i in range(9)]),
            batch_in, batch_out, S.otel_document(tmp_path)]


def _summary(traffic) -> tuple:
    return ({t: (x.requests, x.replayable, dict(x.sources)) for t, x in traffic.tasks.items()},
            dict(traffic.stats.typing), traffic.stats.records, traffic.stats.lines, traffic.stats.skipped,
            traffic.stats.joined, {t: [r.id for r in traffic.sample(t)] for t in traffic.tasks},
            {k: v for k, v in traffic.volume.items()})


def test_reading_the_inferred_requests_again_gives_what_holding_them_gives(tmp_path, monkeypatch):
    from tiertool.ingest import reader as reader_mod
    from tiertool.ingest import scan

    logs = _mixed_logs(tmp_path)
    held = scan(logs, sample=50, seed=3)
    monkeypatch.setattr(reader_mod, "BUFFER_CHARS", 0)  # nothing held: the marked units are parsed again
    again = scan(logs, sample=50, seed=3)
    assert _summary(again) == _summary(held)
    tasks = held.tasks
    assert tasks["greeting"].requests == 5 and tasks["auto:rate-review-from-stars"].requests == 9  # spans of a line
    assert {"auto:question-give-number-short", "auto:classify-support-ticket-into", "tagged", "triage"} <= set(tasks)
    assert held.stats.typing["template"] == sum(t.requests for t in tasks.values() if t.typed_by == "template")
    assert held.stats.records == sum(t.requests for t in tasks.values())


def test_reading_again_finds_the_inferred_requests_of_api_pages_on_json_lines(tmp_path, monkeypatch):
    from tiertool.ingest import reader as reader_mod

    rows = templated(random.Random(2), 40)
    rows = [r if i % 3 == 0 else {**r, "metadata": {"task": "t"}} for i, r in enumerate(rows)]
    lines = [{"data": rows[:7], "total": 7}, *rows[7:20], {"data": rows[20:30], "page": 2}, *rows[30:]]
    path = S.jsonl(tmp_path / "pages.jsonl", lines)  # a page is one line but several units

    def read() -> tuple:
        reader = read_logs([path])
        return [(r.source, r.task) for r in reader], dict(reader.stats.typing)

    held = read()
    monkeypatch.setattr(reader_mod, "BUFFER_CHARS", 0)
    assert read() == held and held[1] == {"metadata": 26, "template": 14}


def test_the_log_is_read_once_unless_inferred_requests_overflow_memory(tmp_path, monkeypatch):
    from tiertool.ingest import reader as reader_mod
    from tiertool.ingest import sources

    parsed: list[int] = []
    loads = sources.loads
    monkeypatch.setattr(sources, "loads", lambda b: parsed.append(1) or loads(b))
    rows = [{**r, "metadata": {"task": "t"}} for r in templated(random.Random(1), 60)]
    path = S.jsonl(tmp_path / "tagged.jsonl", rows)

    def lines_parsed(**kw) -> int:
        parsed.clear()
        assert len(list(read_logs([path], **kw))) == len(rows)
        return len(parsed)

    once = lines_parsed()
    assert once <= len(rows) + 2  # every line once (+ the format sniffing of the first line)
    for r in rows[::4]:  # a quarter untagged: inferred
        del r["metadata"]
    S.jsonl(path, rows)
    assert lines_parsed() == once  # held in memory until the templates are learned
    monkeypatch.setattr(reader_mod, "BUFFER_CHARS", 0)
    # read again: what every pass sniffs of the first line (JSON lines or one document? an OTLP pair?), and the
    # untagged lines only
    assert lines_parsed() == once + (once - len(rows)) + len(rows[::4])


def test_inspect_requests_writes_each_request_s_typing_with_the_same_counts_everywhere(tmp_path):
    import csv

    rng = random.Random(12)
    rows = templated(rng, 30) + [{**r, "tags": ["task:triage"]} for r in templated(rng, 6)]
    rows += [{**r, "metadata": {"task": "meta"}} for r in templated(rng, 3)]
    rows += [chat(f"pair{i}", f"Proofread this memo for typos please:\nmemo {prose(rng, 5)}") for i in range(2)]
    rows += [chat(f"free{i}", prose(rng, 7)) for i in range(4)]
    log = S.jsonl(tmp_path / "chat.jsonl", rows)
    out = tmp_path / "typing.csv"
    r = runner.invoke(app, ["inspect", str(log), "--json", "--requests", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    with out.open(encoding="utf-8", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["id", "source", "task", "typed_by", "template"]
    assert len(got) == summary["records"] == len(rows)
    assert sorted(int(g["source"].rsplit(":", 1)[1]) for g in got) == list(range(1, len(rows) + 1))
    by_source = {}
    for g in got:
        by_source[g["typed_by"]] = by_source.get(g["typed_by"], 0) + 1
    assert by_source == {t["source"]: t["requests"] for t in summary["typing"]} == \
        {"tag": 6, "metadata": 3, "template": 30, "none": 6}
    tasks = {t["task"]: t for t in summary["tasks"]}
    for g in got:
        assert g["task"] in tasks
        if g["typed_by"] == "template":
            assert g["template"] == tasks[g["task"]]["template"] and g["task"].startswith("auto:")
        else:
            assert g["template"] == ""
    # the two-request template is no task type: its rows say untyped, like the counts
    assert {g["task"] for g in got if g["id"].startswith("pair")} == {"untagged"}
