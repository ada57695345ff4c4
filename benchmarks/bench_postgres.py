"""scan() of the LiteLLM proxy's `LiteLLM_SpendLogs` table, pushed down, next to the same scan with every row sent
to the parser (what the Postgres engine did before the mapping ran in SQL), in the same run on the same table.

Why: the proxy's database holds the whole traffic; what matters is that rows are read in Postgres and only the
sample comes back. A throwaway cluster (tests/kit/postgres.py: Debian's server binaries) holds real-shape rows
(benchmarks/spend_rows.py: the litellm 1.110.2 proxy's own rows, varied):

    .venv/bin/python benchmarks/bench_postgres.py --rows 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each way, interleaved; the median is shown")
    args = ap.parse_args()
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    import psycopg

    from benchmarks import spend_rows
    from tests.kit.postgres import create_spendlogs, insert_spend_rows, start_postgres
    from tiertool.ingest import scan
    from tiertool.ingest.engines import postgres, spend_pg

    staged = spend_pg.staged
    returned: list[int] = []
    chunks = postgres.SpendLogs.chunks

    def counted(self: postgres.SpendLogs) -> Any:
        for chunk in chunks(self):
            returned.append(len(chunk.python))
            yield chunk

    postgres.SpendLogs.chunks = counted  # type: ignore[method-assign]
    with start_postgres() as server:
        url = server.url()
        with psycopg.connect(url) as conn:
            create_spendlogs(conn)
            t = time.perf_counter()
            insert_spend_rows(conn, ({k: v for k, v in r.items() if k not in spend_rows.NOT_COLUMNS}
                                     for r in spend_rows.rows(args.rows, seed=1)))
            conn.commit()
            conn.autocommit = True
            conn.execute('VACUUM ANALYZE "LiteLLM_SpendLogs"')
            size = conn.execute("SELECT pg_total_relation_size('\"LiteLLM_SpendLogs\"')").fetchone()[0]
        print(f"loaded {args.rows:,} rows ({size / 2**20:,.0f} MiB in the table) in {time.perf_counter() - t:.0f} s")
        ways = {"pushed down": staged, "every row to the parser": lambda *a, **k: staged(*a, **dict(k, utf8=False))}
        times: dict[str, list[float]] = {w: [] for w in ways}
        facts: dict[str, tuple[Any, ...]] = {}
        back: dict[str, int] = {}
        for _ in range(args.repeat):
            for way, fn in ways.items():
                spend_pg.staged = fn  # type: ignore[assignment]
                returned.clear()
                t = time.perf_counter()
                traffic = scan([url], sample=200, seed=0)
                times[way].append(time.perf_counter() - t)
                back[way] = sum(returned)
                facts[way] = (traffic.stats.records, round(sum(u.logged_cost for u in traffic.volume.values()), 6),
                              sorted((s, [r.id for r in v]) for s, v in traffic.strata.items()))
        spend_pg.staged = staged
    if facts["pushed down"] != facts["every row to the parser"]:
        sys.exit("the two ways gave different traffic")
    print(f"{args.rows:,} spend rows in Postgres, aggregate + sample of 200 per task and model "
          f"(median of {args.repeat} interleaved runs; requests {facts['pushed down'][0]:,}, the same both ways):")
    for way in ways:
        print(f"  {way:<26} {statistics.median(times[way]):7.1f} s   rows the parser reads {back[way]:,} "
              "(and the sample's)")
    a, b = (statistics.median(times[w]) for w in ways)
    print(f"  speed-up of the pushed-down scan: {b / a:.2f}x")


if __name__ == "__main__":
    main()
