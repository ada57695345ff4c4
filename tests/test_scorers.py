"""Each scorer as a user configures it: a `tasks:` entry in tiertool.yaml -> pass/fail, score and reason."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiertool.config import parse_config
from tiertool.config.scorers import AutoSpec, JudgeSpec
from tiertool.errors import ConfigError
from tiertool.records import Request
from tiertool.scorers import ScoringContext, make_scorer
from tiertool.scorers.auto import choose
from tiertool.scorers.structured import final_number, parse_json

TIERS = [{"name": "small", "model": "m1"}, {"name": "large", "model": "m2"}]


REQUEST = Request(id="r", source="test:1", model="m2", messages=({"role": "user", "content": "q"},))


def scorer(spec: dict, base_dir: str = "."):
    cfg = parse_config({"tiers": TIERS, "tasks": {"t": spec}}, base_dir=base_dir)
    return make_scorer(cfg.spec_for("t"), cfg.base_dir, cfg.tiers)


def ctx(candidate: str, reference: str) -> ScoringContext:
    return ScoringContext(REQUEST, candidate, reference)


def check(spec: dict, candidate: str, reference: str) -> tuple[bool, float, str]:
    s = scorer(spec).score(ctx(candidate, reference))
    assert 0.0 <= s.value <= 1.0 and s.reason
    return s.passed, s.value, s.reason


@pytest.mark.parametrize("spec, cand, ref, ok", [
    ({"scorer": "exact"}, "  Billing\n", "billing", True),
    ({"scorer": "exact", "ignore_case": False}, "Billing", "billing", False),
    ({"scorer": "exact"}, "billing.", "billing", False),
    ({"scorer": "exact", "ignore_punctuation": True}, "billing.", "billing", True),
    ({"scorer": "exact", "ignore_whitespace": False}, "bill  ing", "bill ing", False),
    ({"scorer": "exact", "labels": ["billing", "bug", "bug report"]}, "Sure! The category is: **Billing**.",
     "billing", True),
    ({"scorer": "exact", "labels": ["billing", "bug", "bug report"]}, "This is a bug report.", "bug", False),
    ({"scorer": "exact", "labels": ["billing", "bug"]}, "billing or bug, hard to say", "bug", False),
    ({"scorer": "contains"}, "The capital is Paris, of course.", "paris", True),
    ({"scorer": "contains", "values": ["refund", "sorry"], "mode": "all"}, "We are sorry.", "", False),
    ({"scorer": "contains", "values": ["refund", "sorry"], "mode": "any"}, "We are sorry.", "", True),
    ({"scorer": "regex", "patterns": [r"^\d{3}-\d{4}$"]}, "555-1234", "", True),
    ({"scorer": "regex", "patterns": [r"\bSKU-\d+", "EUR"], "mode": "all"}, "SKU-12 costs 3 USD", "", False),
    ({"scorer": "regex", "patterns": [r"\bSKU-\d+", "EUR"], "mode": "any"}, "SKU-12 costs 3 USD", "", True),
    ({"scorer": "length", "max_chars": 10}, "short", "whatever", True),
    ({"scorer": "length", "min_ratio": 0.5, "max_ratio": 2}, "ab", "abcdefghij", False),
    ({"scorer": "numeric"}, "So she makes $1,234.00 a day.", "#### 1234", True),
    ({"scorer": "numeric"}, "The answer is 18. (9 * 2 = 18; check: 16 - 7 = 9)", "#### 18", True),
    ({"scorer": "numeric"}, "about 3k users", "3,000", True),
    ({"scorer": "numeric", "scale_words": False}, "about 3k users", "3,000", False),
    ({"scorer": "numeric", "percent": True}, "50%", "0.5", True),
    ({"scorer": "numeric", "relative": 0.01}, "100.5", "100", True),
    ({"scorer": "numeric"}, "100.5", "100", False),
    ({"scorer": "numeric"}, "no idea", "7", False),
    ({"scorer": "fuzzy", "threshold": 0.9}, "the quick brown fox", "The quick brown fox!", True),
    ({"scorer": "fuzzy", "threshold": 0.9}, "fox brown quick the", "the quick brown fox", False),
    ({"scorer": "fuzzy", "threshold": 0.9, "method": "token_set"}, "fox brown quick the", "the quick brown fox",
     True),
])
def test_text_and_number_scorers(spec, cand, ref, ok):
    assert check(spec, cand, ref)[0] is ok


def test_json_from_fenced_and_chatty_output_with_tolerance_and_schema(tmp_path):
    ref = '{"name": "Ada", "total": 10.0, "items": [1, 2], "meta": {"id": 7}}'
    chatty = 'Here you go:\n```json\n{"name": "Ada", "total": 10.004, "items": [1, 2], "meta": {"id": 7}}\n```'
    assert check({"scorer": "json"}, chatty, ref)[:2] == (False, 0.75)
    ok, _, why = check({"scorer": "json", "tolerance": {"total": 0.01}}, chatty, ref)
    assert ok, why
    ok, value, why = check({"scorer": "json"}, 'Sure! {"name": "Bo", "total": 10.0, "items": [1, 2]} hope it helps',
                           ref)
    assert not ok and "meta.id" in why and "name" in why
    assert check({"scorer": "json", "compare": "keys"}, '{"name": "Bo", "total": 1, "items": [], "meta": {"id": 1}}',
                 ref)[0]
    assert check({"scorer": "json", "ignore": ["name"]}, '{"name": "Bo", "total": 10, "items": [1, 2], '
                 '"meta": {"id": 7}}', ref)[0]
    schema = {"type": "object", "required": ["name", "total"], "properties": {"total": {"type": "number"}}}
    ok, _, why = check({"scorer": "json", "schema": schema, "compare": "none"}, '{"name": "x", "total": "ten"}', ref)
    assert not ok and why.startswith("schema: total:")
    (tmp_path / "order.schema.json").write_text(json.dumps(schema))
    s = scorer({"scorer": "json", "schema": "order.schema.json", "compare": "none"}, str(tmp_path))
    assert s.score(ctx('{"name": "x", "total": 3}', "")).passed
    assert check({"scorer": "json"}, "I cannot do that.", ref)[0] is False


def test_bad_schema_file_is_a_config_error(tmp_path):
    (tmp_path / "bad.json").write_text('{"type": 12}')
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        scorer({"scorer": "json", "schema": "bad.json"}, str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read"):
        scorer({"scorer": "json", "schema": "missing.json"}, str(tmp_path))


def test_all_of_and_any_of_with_weights_and_threshold():
    parts = [{"scorer": "numeric"}, {"scorer": "length", "max_chars": 20}]
    assert not check({"scorer": "all_of", "scorers": parts}, "It is 42, as computed at length here.", "42")[0]
    ok, value, why = check({"scorer": "any_of", "scorers": parts}, "It is 42, as computed at length here.", "42")
    assert ok and value == 0.5 and "numeric: 42 == 42" in why
    ok, value, _ = check({"scorer": "all_of", "scorers": parts, "weights": [3, 1], "threshold": 0.7},
                         "It is 42, as computed at length here.", "42")
    assert ok and value == 0.75


@pytest.mark.parametrize("tasks, expect", [
    ({"t": {"scorer": "exact", "colour": 1}}, "tasks.t.colour: unknown key; allowed: ignore_case, "
     "ignore_punctuation, ignore_whitespace, labels, scorer"),
    ({"exact": {"scorer": "exact", "colour": 1}}, "tasks.exact.colour: unknown key; allowed: ignore_case"),
    ({"t": {"scorer": "regex", "patterns": ["("]}}, "tasks.t: pattern '(' is not a valid regular expression"),
    ({"t": {"scorer": "judge"}}, "tasks.t: give exactly one of 'tier'"),
    ({"t": {"scorer": "all_of", "scorers": [{"scorer": "exact"}], "weights": [1, 2]}},
     "tasks.t: weights: 2 given for 1 scorers"),
    ({"t": {"scorer": "any_of", "scorers": [{"scorer": "magic"}]}}, "tasks.t.scorers.0: scorer must be one of"),
    ({"t": {"scorer": "any_of", "scorers": [{"scorer": "numeric", "tolerance": -1}]}},
     "tasks.t.scorers.0.tolerance: Input should be greater than or equal to 0"),
    ({"t": {"scorer": "auto", "judge": {"scorer": "judge", "tier": "large", "rubrik": "x"}}},
     "tasks.t.judge.rubrik: unknown key; allowed: api_base, api_key_env, max_chars, model, rubric, scorer, tier"),
    ({"t": {"scorer": "prediction_powered", "cheap": {"scorer": "numeric"}, "fraction": 0,
            "judge": {"scorer": "judge", "model": "x"}}}, "tasks.t.fraction: Input should be greater than 0"),
    ({"t": {"scorer": "prediction_powered", "cheap": {"scorer": "numeric"}, "fraction": 0.1}},
     "tasks.t.judge: Field required"),
    ({"t": {"threshold": 1}}, "tasks.t: missing 'scorer' (one of exact, contains, regex, length, json, numeric, "
     "fuzzy, embedding, judge, all_of, any_of, tool_call, auto, prediction_powered)"),
])
def test_scorer_config_errors_are_one_line_naming_the_key(tasks, expect):
    with pytest.raises(ConfigError) as e:
        parse_config({"tiers": TIERS, "tasks": tasks})
    assert expect in str(e.value) and "\n" not in str(e.value)


def test_judge_naming_an_unknown_tier_is_a_config_error():
    with pytest.raises(ConfigError, match="judge tier 'huge' is not one of the configured tiers"):
        scorer({"scorer": "judge", "tier": "huge"})


@pytest.mark.parametrize("refs, name, why", [
    (["billing", "bug", "Billing", "account", "bug", "bug."], "exact", "6 reference answers use 3 labels"),
    (['{"a": 1}', '```json\n{"a": 2}\n```', "[1, 2]"], "json", "3/3 reference answers are JSON"),
    (["9 + 9 = 18. The answer is 18.", "#### 1,200", "It costs $3.50"], "numeric", "3/3 reference answers end in"),
    (["Dear Bo, sorry about the kettle.", "Hi Ada, your lamp ships today.", "Thanks Eli, we fixed it."], "fuzzy",
     "free text"),
])
def test_auto_picks_the_scorer_from_the_reference_answers_and_says_why(refs, name, why):
    spec, reason = choose(AutoSpec(scorer="auto"), refs)
    assert spec.scorer == name and why in reason


def test_auto_uses_the_judge_for_free_text_when_one_is_configured():
    judge = JudgeSpec(scorer="judge", tier="large")
    spec, reason = choose(AutoSpec(scorer="auto", judge=judge), ["A long letter.", "Another letter.", "A poem."])
    assert spec is judge and "judge" in reason


def test_auto_label_choice_extracts_labels_from_chatty_answers():
    spec, _ = choose(AutoSpec(scorer="auto"), ["billing", "bug", "bug", "billing"])
    s = make_scorer(spec)
    assert s.score(ctx("I'd say this is a Bug.", "bug")).passed and not s.score(ctx("billing", "bug")).passed


@given(st.integers(-10**12, 10**12), st.sampled_from(["{:,}", "{}", "{:_}"]),
       st.sampled_from(["The answer is {}.", "#### {}", "so ${} in total", "{}"]))
def test_final_number_reads_thousands_separators(n, fmt, sentence):
    assert final_number(sentence.format(fmt.format(n)) + "\n") == n


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=10) | st.booleans(),
                       max_size=5),
       st.sampled_from(["{}", "```json\n{}\n```", "Sure, here it is: {} Let me know!", "```\n{}\n```"]))
def test_parse_json_finds_the_object_in_fenced_or_chatty_text(obj, wrap):
    assert parse_json(wrap.replace("{}", json.dumps(obj))) == obj


def test_a_records_expected_answer_grades_every_tier_and_the_reference():
    """Once a log format fills `Request.expected`, every tier is graded against it (the reference included)."""
    from tiertool.records import Answer
    from tiertool.scorers.grade import Grader

    cfg = parse_config({"tiers": TIERS, "tasks": {"math": {"scorer": "numeric"}}})
    small, large = cfg.tiers
    reqs = [Request(id=f"r{i}", source=f"log:{i}", model="m2", messages=({"role": "user", "content": "q"},),
                    task="math", expected=e) for i, e in enumerate(["#### 12", None])]
    answers = {("log:0", "small"): "12", ("log:0", "large"): "13", ("log:1", "small"): "7", ("log:1", "large"): "7"}
    items = [(r, t) for r in reqs for t in (small, large)]
    resolved = {k: Answer(v, "log") for k, v in answers.items()}
    grader = Grader(cfg)
    grader.check(["math"])
    got = {(x.request_id, x.tier): x for x in grader.grade(items, resolved, large)}
    assert set(got) == {("r0", "small"), ("r0", "large"), ("r1", "small")}
    assert got[("r0", "small")].passed and got[("r0", "small")].reason.startswith("vs expected: ")
    assert got[("r0", "large")].passed is False and got[("r0", "large")].reference == "#### 12"
    assert got[("r1", "small")].passed and got[("r1", "small")].reference == "7"


FAKE_ST = '''
"""A stand-in for sentence-transformers (the real one needs torch): bag-of-words vectors."""
import numpy as np


class SentenceTransformer:
    def __init__(self, name):
        if name != "bow":
            raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {name}")

    def encode(self, texts, normalize_embeddings=False):
        vecs = np.zeros((len(texts), 64))
        for i, t in enumerate(texts):
            for w in t.lower().split():
                vecs[i, sum(map(ord, w)) % 64] += 1
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True) if normalize_embeddings else vecs
'''


def test_embedding_scorer_with_the_extra_installed(tmp_path, monkeypatch, request):
    from tiertool.scorers.embedding import _model, check_installed

    pkg = tmp_path / "sentence_transformers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(FAKE_ST)
    monkeypatch.syspath_prepend(str(tmp_path))
    _model.cache_clear()
    request.addfinalizer(lambda: (sys.modules.pop("sentence_transformers", None), _model.cache_clear()))
    check_installed("t", "bow")
    with pytest.raises(ConfigError, match="embedding model 'nope' cannot be loaded .*couldn't connect"):
        check_installed("t", "nope")
    s = scorer({"scorer": "embedding", "model": "bow", "threshold": 0.9})
    same = s.score(ctx("the parcel ships today", "today the parcel ships"))
    assert same.passed and same.value == pytest.approx(1.0) and same.reason.startswith("cosine 1.00 >=")
    other = s.score(ctx("completely unrelated words here", "the parcel ships today"))
    assert not other.passed and other.value < 0.9


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans(), st.floats(0.01, 10)), min_size=1, max_size=5),
       st.sampled_from(["all_of", "any_of"]), st.none() | st.floats(0, 1))
def test_combined_score_is_the_weighted_mean_and_pass_follows_the_rule(members, name, threshold):
    from tiertool.records import Score
    from tiertool.scorers.combine import Combined
    from tiertool.scorers.text import Exact

    scores = [Score(v, p, "r") for v, p, _ in members]
    weights = tuple(w for _, _, w in members)
    s = Combined((Exact(),) * len(members), weights, threshold, name).combine(scores)
    assert min(x.value for x in scores) - 1e-9 <= s.value <= max(x.value for x in scores) + 1e-9
    if threshold is not None:
        assert s.passed is (s.value >= threshold)
    else:
        assert s.passed is (all if name == "all_of" else any)(x.passed for x in scores)
