"""Spark (local mode) reads LiteLLM spend rows as the streaming reader does, from JSON lines and from Parquet, and
reads them itself: only rows outside the shapes its SQL maps exactly go to Python. An audit through it decides
what the file path decides. One module, one session, few queries: Spark is slow to start."""

from __future__ import annotations

import json

import pytest

from tests.enginekit import nan_log, odd_lines, producer_rows, same_cost, spend_rows, traffic_facts, write_log
from tiertool.errors import InputError
from tiertool.ingest import scan


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return write_log(tmp_path_factory.mktemp("spark") / "spend.jsonl", spend_rows(150), odd_lines())


@pytest.fixture
def python_rows(monkeypatch):
    """The number of rows Python reads, per part Spark read (the rest Spark mapped itself)."""
    from tiertool.ingest.engines import spark

    counts: list[int] = []
    chunks = spark.SparkInput.chunks

    def counted(self):
        for chunk in chunks(self):
            counts.append(len(chunk.python))
            yield chunk

    monkeypatch.setattr(spark.SparkInput, "chunks", counted)
    return counts


def test_spark_gives_the_streaming_readers_traffic(spark, log, tmp_path, python_rows):
    stream = scan([log], sample=5, seed=4)
    sparked = scan([str(log)], sample=5, seed=4, engine="spark")
    assert stream.stats.skipped > 10 and sum(map(len, stream.strata.values())) > 20
    assert traffic_facts(sparked) == traffic_facts(stream)
    assert same_cost(sparked, stream)
    # the odd rows, the odd lines and the out-of-range rows only: every proxy and synthetic row is Spark's
    odd = sum(1 for r in spend_rows(150) if str(r["request_id"]).startswith(("odd-", "range-"))) + len(odd_lines())
    assert 0 < python_rows[0] <= odd, python_rows

    import pyarrow as pa
    import pyarrow.parquet as pq

    # the same rows as Parquet, JSON columns as text, times as timestamps: Spark reads them as DuckDB does
    rows = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in spend_rows(300)
            if str(r["request_id"]).startswith(("tag-", "metadata-", "none-"))]
    table = pa.Table.from_pylist(rows)
    for col in ("startTime", "endTime"):
        table = table.set_column(table.schema.get_field_index(col), col,
                                 pa.compute.cast(pa.compute.strptime(pa.compute.utf8_slice_codeunits(table[col], 0, 19),
                                                                     "%Y-%m-%dT%H:%M:%S", "us"), pa.timestamp("us")))
    pq.write_table(table, tmp_path / "spend.parquet")
    path = str(tmp_path / "spend.parquet")
    assert traffic_facts(scan([path], sample=5, seed=4, engine="spark"), sources=False) == \
        traffic_facts(scan([path], sample=5, seed=4, engine="duckdb"), sources=False)
    assert python_rows[1:] == [0]


def test_spark_reads_ordinary_proxy_rows_itself(spark, tmp_path, python_rows):
    """Pushdown is real: the proxy's own rows and the benchmarks' real-shape rows (bodies with caller tags and
    requester metadata, prompts logged or not, failures, cached tokens) are all read in Spark, none by Python;
    the same rows as Parquet (JSON columns as text) too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks import spend_rows as bench

    rows = producer_rows() + list(bench.rows(400, seed=2))
    log = write_log(tmp_path / "proxy.jsonl", rows)
    pq.write_table(pa.Table.from_pylist([{k: v if isinstance(v, str) or v is None else json.dumps(v) if isinstance(
        v, (dict, list)) else v for k, v in r.items()} for r in bench.rows(400, seed=2)]), tmp_path / "proxy.parquet")
    for path in (log, tmp_path / "proxy.parquet"):
        stream = scan([path], sample=5, seed=3, engine="stream")
        sparked = scan([str(path)], sample=5, seed=3, engine="spark")
        assert traffic_facts(sparked, sources=path == log) == traffic_facts(stream, sources=path == log), path
        assert same_cost(sparked, stream)
        assert stream.stats.typing["template"] > 0 and stream.stats.typing["metadata"] > 0
    assert python_rows == [0, 0]


def test_spark_checks_what_the_tiers_take_and_types_agent_steps_as_the_streaming_reader(spark, tmp_path, python_rows):
    """audit's carry check and `agent_steps` change how rows read: Spark hands those rows to the parser."""
    from tests.test_engines_duckdb import _agent_rows
    from tiertool.config import Tier
    from tiertool.replay import carry_check

    rows = [dict(r, session_id=None) for r in spend_rows(150)]
    log = write_log(tmp_path / "agents.jsonl", rows + _agent_rows(producer_rows()[0]))
    check = carry_check([Tier(name="o3", model="openai/o3"),
                         Tier(name="claude", model="anthropic/claude-3-7-sonnet-20250219")])
    for options in ({"check": check}, {"steps": True}):
        stream = scan([log], sample=7, seed=5, **options)
        sparked = scan([str(log)], sample=7, seed=5, engine="spark", **options)
        assert traffic_facts(sparked) == traffic_facts(stream), options
    plain = scan([str(log)], sample=7, seed=5, engine="spark")
    assert traffic_facts(plain) == traffic_facts(scan([log], sample=7, seed=5))
    checked, steps, unchecked = python_rows
    assert checked > unchecked + 100 and unchecked < steps < checked  # the replayable rows / the agent rows


def test_an_audit_through_spark_decides_what_the_file_decides(spark, tmp_path, synth, server_factory, env_key,
                                                              monkeypatch):
    from tests.conftest import small_answerer, write_config, write_jsonl
    from tests.enginekit import audit_decisions

    rows, small = synth(600, seed=11)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    server = server_factory(small_answerer(small))
    write_config(tmp_path / "tiertool.yaml", server.api_base)
    monkeypatch.chdir(tmp_path)
    from_spark = audit_decisions([str(log)], tmp_path / "spark", engine="spark")
    assert from_spark == audit_decisions([str(log)], tmp_path / "file")
    assert any(tier == "small" for _, _, _, tier, _ in from_spark[0])


def test_parquet_text_columns_with_nan_are_read_as_the_parser_reads_them(spark, tmp_path):
    """NaN or Infinity in a Parquet file's JSON text columns (Spark's JSON functions read them, Python's parsers
    refuse them): such rows are the parser's, so Spark gives the streaming reader's traffic. DuckDB writes the
    UUID-shaped columns as UUIDs, which Spark does not read: a one-line error that says how to write them."""
    clean, pq = nan_log(tmp_path)
    with pytest.raises(InputError, match=r"nan.parquet: Spark cannot read it: \[PARQUET_TYPE_ILLEGAL\].*UUID.*"
                                         r"write them as text"):
        scan([str(pq)], sample=50, seed=1, engine="spark")
    clean, pq = nan_log(tmp_path, uuids=False)
    stream = scan([clean], sample=50, seed=1)
    assert traffic_facts(scan([str(pq)], sample=50, seed=1, engine="spark"), sources=False) == \
        traffic_facts(stream, sources=False)
