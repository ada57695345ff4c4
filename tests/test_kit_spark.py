"""The Spark kit: a local Spark session reads a Parquet file that pyarrow wrote."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq


def test_spark_reads_parquet_written_by_pyarrow(spark, tmp_path):
    table = pa.table({"request_id": [f"r{i}" for i in range(6)],
                      "model": ["gpt-4o", "gpt-4o-mini"] * 3,
                      "spend": [0.5, 0.25, 0.5, 0.25, 0.5, 0.25],
                      "request_tags": [["task:triage"], ["task:extract"]] * 3})
    pq.write_table(table, tmp_path / "spend.parquet")
    frame = spark.read.parquet(str(tmp_path / "spend.parquet"))
    totals = {r["model"]: (r["n"], r["spend"]) for r in
              frame.groupBy("model").agg({"request_id": "count", "spend": "sum"})
              .withColumnsRenamed({"count(request_id)": "n", "sum(spend)": "spend"}).collect()}
    assert totals == {"gpt-4o": (3, 1.5), "gpt-4o-mini": (3, 0.75)}
    assert frame.where("array_contains(request_tags, 'task:triage')").count() == 3
