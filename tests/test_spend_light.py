"""The fast path over spend lines (ingest/spend_light.py) gives the parser what a full decode gives it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiertool.ingest import litellm_spend, scan, spend_light
from tiertool.ingest.common import BadRecord

PRODUCERS = Path(__file__).parent / "fixtures/producers"
LINES = (PRODUCERS / "litellm_spend_logs.jsonl").read_bytes().splitlines()


def _read(row: dict) -> object:
    """What the parser makes of a row: a Request, or the error it raises."""
    try:
        return litellm_spend.parse(row, "x", "auto")
    except BadRecord as e:
        return repr(e)


@pytest.mark.parametrize("n", range(len(LINES)))
def test_producer_rows_read_alike(n: int) -> None:
    line = LINES[n]
    projected = spend_light.project(line)
    assert projected is not None
    assert len(projected["metadata"]) < len(orjson.loads(orjson.loads(line)["metadata"]))  # the bulk left out
    assert _read(projected) == _read(orjson.loads(line))


FIELD = st.sampled_from(["metadata", "proxy_server_request", "request_tags", "response", "spend", "model"])
VALUE = st.one_of(st.none(), st.text(max_size=8), st.integers(-(2**63), 2**63 - 1), st.just("{"),
                  st.just('{"task": 3}'),
                  st.just('{"task": "t", "usage_object": {"prompt_tokens_details": {"cached_tokens": "x"}}}'),
                  st.just('{"metadata": "{\\"caller_tags\\": [\\"task:q\\"]}"}'), st.just("[1, {}]"), st.just("{}"))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, len(LINES) - 1), edits=st.dictionaries(FIELD, VALUE, max_size=3))
def test_edited_rows_read_alike(n: int, edits: dict) -> None:
    """Rows with odd values where the fast path looks (JSON text or not, bad JSON, wrong types) read alike, or
    the fast path leaves the line to the full decode."""
    row = {**orjson.loads(LINES[n]), **edits}
    line = orjson.dumps(row)
    projected = spend_light.project(line)
    if projected is not None:
        assert _read(projected) == _read(row)


def test_scan_of_a_spend_log_is_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "spend.jsonl"
    log.write_bytes(b"\n".join(LINES * 3) + b"\n")
    fast = scan([log], sample=5, seed=1)
    monkeypatch.setattr(spend_light, "project", lambda line: None)
    full = scan([log], sample=5, seed=1)
    assert fast.volume == full.volume and fast.stats == full.stats
    assert fast.strata == full.strata and sum(map(len, fast.strata.values())) > 5
