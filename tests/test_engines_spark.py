"""Spark (local mode) reads LiteLLM spend rows as the streaming reader does, from JSON lines and from Parquet;
an audit through it decides what the file path decides. One module, one session, few queries: Spark is slow to
start."""

from __future__ import annotations

import json

import pytest

from tests.enginekit import odd_lines, same_cost, spend_rows, traffic_facts, write_log
from tiertool.ingest import scan


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return write_log(tmp_path_factory.mktemp("spark") / "spend.jsonl", spend_rows(150), odd_lines())


def test_spark_gives_the_streaming_readers_traffic(spark, log, tmp_path):
    stream = scan([log], sample=5, seed=4)
    sparked = scan([str(log)], sample=5, seed=4, engine="spark")
    assert stream.stats.skipped > 10 and sum(map(len, stream.strata.values())) > 20
    assert traffic_facts(sparked) == traffic_facts(stream)
    assert same_cost(sparked, stream)

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
