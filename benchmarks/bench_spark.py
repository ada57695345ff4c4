"""scan() through `--engine spark` (local mode) on real-shape LiteLLM spend rows (benchmarks/spend_rows.py).

Why: the Spark engine is for traffic beyond one machine, so what matters is that rows are read in Spark, not
sent to the driver for the parser. Run it with another tree first on PYTHONPATH to time another version of the
engine on the same file (the session starts before the clock does):

    PYTHONPATH=. python benchmarks/bench_spark.py --rows 100000 --cores 2 --data /tmp/spark-bench
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--memory", default="4g", help="driver heap (rows sent to Python are collected there)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/tiertool-spark-bench"))
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # PYTHONPATH first: the tree timed
    from benchmarks import spend_rows

    args.data.mkdir(parents=True, exist_ok=True)
    log = args.data / f"spend-{args.rows}.jsonl"
    if not log.exists():
        spend_rows.write_jsonl(log.with_suffix(".tmp"), args.rows, seed=1).rename(log)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{args.cores}]").config("spark.driver.memory", args.memory)
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    from tiertool.ingest import scan
    from tiertool.ingest.engines import spark as engine

    rows_for_python: list[int] = []
    chunks = engine.SparkInput.chunks

    def counted(self: engine.SparkInput):  # type: ignore[no-untyped-def]
        for chunk in chunks(self):
            rows_for_python.append(len(chunk.python))
            yield chunk

    engine.SparkInput.chunks = counted  # type: ignore[method-assign]
    for _ in range(args.repeat):
        rows_for_python.clear()
        t = time.perf_counter()
        traffic = scan([str(log)], sample=20, seed=1, engine="spark")
        took = time.perf_counter() - t
        print(f"{engine.__file__}: {args.rows} rows ({log.stat().st_size / 1e9:.2f} GB), local[{args.cores}]: "
              f"scan {took:.1f} s, rows read by Python {sum(rows_for_python)}, requests {traffic.stats.records}",
              flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
