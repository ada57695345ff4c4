"""Where the DuckDB path's time goes on JSON lines (issue 20): the pieces of its query, each timed alone, next to
DuckDB's own read_json of the same columns in the same run.

    .venv/bin/python benchmarks/profile_jsonl_query.py /tmp/b/spend-100000.jsonl [--repeat 2]

The file is a real-shape spend log (`benchmarks/bench_engines.py jsonl --rows 100000 --dir /tmp/b` writes one).
Its lines are held in memory as one Arrow table of the columns files.JsonLinesFile gives DuckDB, so the figures are
DuckDB's work alone (no file reading, no Python after the query). The first four steps count rows, so DuckDB
computes only what the step names; each includes the decode of the first. The pieces are for comparing with
each other: over one in-memory table the whole query runs slower than over the batches scan() streams (7.4 s
against 4.4 s for 100,000 lines in a cProfile of scan(), at 724a2c2), so bench_engines.py gives the path's real figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each step; the best is shown")
    args = ap.parse_args()

    import duckdb
    import numpy as np
    import pyarrow as pa

    from tiertool.ingest.engines import spend_duckdb as sql
    from tiertool.ingest.engines.files import JsonLinesFile

    lines = args.path.read_bytes().split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    batch = pa.table({"n": pa.array(np.arange(1, len(lines) + 1)), "line": pa.array(lines, pa.large_binary())})
    del lines
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.register("batch", batch)
    struct = sql.sql_str(sql.structure("auto"))
    text = "(SELECT try(decode(line)) AS s FROM batch)"
    columns = ", ".join(f"{k}: '{v}'" for k, v in sql.fields("auto").items())
    steps = [
        ("decode the lines (UTF-8 check)", f"SELECT count(*) FROM {text} WHERE s IS NOT NULL"),
        ("from_json of the fields read", f"SELECT count(*) FROM (SELECT try(from_json(s, {struct})) AS r FROM {text})"
                                         " WHERE r IS NOT NULL"),
        ("odd-JSON check: NaN, Infinity", f"SELECT count(*) FROM {text} WHERE {sql.odd('s')[1]}"),
        ("odd-JSON check: trailing commas", f"SELECT count(*) FROM {text} WHERE {sql.odd('s')[2]}"),
        ("the whole one-pass query", JsonLinesFile(str(args.path), None, "auto", 0, 200, False).query),  # type: ignore[arg-type]
        # the bulky columns summed, so read_json materialises them (it would read only what a count needs)
        ("read_json of the same columns", "SELECT sum(length(request_id) + length(metadata) + "
                                          "length(proxy_server_request) + length(response)) FROM "
                                          f"read_json('{args.path}', format='newline_delimited', "
                                          f"columns={{{columns}}})"),
    ]
    print(f"{batch.num_rows:,} lines of {args.path.name}, held in memory; best of {args.repeat}:")
    for name, query in steps:
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            con.execute(query).fetchall()
            best = min(best, time.perf_counter() - t)
        print(f"  {name:<36} {best:7.2f} s", flush=True)


if __name__ == "__main__":
    main()
