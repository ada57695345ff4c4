"""Every format's parser, fed its own records with values swapped for arbitrary JSON: never a crash, and
every line accounted for."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import ingest_samples as S
from tiertool import inspect, render_inspection
from tiertool.ingest import read_logs

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=6)


def _rows(tmp) -> list[dict]:
    inp, out = S.openai_batch(tmp)
    req, res = S.anthropic_batch(tmp)
    files = [inp, out, req, res, S.litellm_payload(tmp), S.langfuse_bucket(tmp), S.helicone(tmp)]
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    rows += json.loads(S.llm_json(tmp).read_text())
    rows += json.loads(S.langfuse_api(tmp).read_text())["data"]
    rows.append(json.loads(S.otel_document(tmp).read_text()))
    rows.append(S.anthropic_message())
    return rows


def _mutate(obj, path: list[int], value):
    """Replace the value at a position chosen by `path` (indexes into keys/items, depth-first)."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return value
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    k = keys[path[0] % len(keys)]
    obj = dict(obj) if isinstance(obj, dict) else list(obj)
    obj[k] = _mutate(obj[k], path[1:], value)
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_records_never_crash(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    rows = _rows(tmp)
    row = data.draw(st.sampled_from(rows))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        row = _mutate(row, path, data.draw(JSON))
    log = tmp / "mutated.jsonl"
    log.write_text(json.dumps(row) + "\n", encoding="utf-8")
    reader = read_logs([log])
    reqs = list(reader)
    s = reader.stats
    assert s.records == len(reqs) and s.records + s.skipped == s.lines >= 1
    summary = inspect([log])  # and the summary of whatever was read renders
    assert summary["records"] == s.records and render_inspection(summary)
    json.dumps(summary)
