"""Benchmark (issue 20): the read stage through DuckDB and the streaming reader, each next to its baseline in the
same run. Every step runs alone in a fresh subprocess; time and peak resident memory (os.wait4) are its own
(for the streaming reader on several cores, the memory is its largest process: the reader's or a worker's).

    # spend rows as Parquet: scan(engine="duckdb") vs its own SQL run by hand in DuckDB, and a minimal aggregate
    .venv/bin/python benchmarks/bench_engines.py parquet --rows 10000000
    # real-shape spend JSON lines: this streaming reader (parsing on every core, and in one process) vs the release
    # the issue was filed against (git archive REV, default TODAY), and the DuckDB path vs DuckDB's own read_json
    # on the same aggregate + sample
    .venv/bin/python benchmarks/bench_engines.py jsonl --rows 1000000 [--baseline REV] [--repeat 3]
    # --only duckdb,read_json runs those steps alone (the others' figures and ratios show nan)

Rows come from benchmarks/spend_rows.py (the litellm 1.110.2 proxy's own rows, varied). The JSON-lines file has
them whole (~21 KB a row). The Parquet file has 10 million rows of the same columns with the two bulky documents
as spend_light.KEEP prunes them (metadata without the price-map entry, proxy_server_request without the proxy's
own bookkeeping: ~3 KB a row), tiled from 20,000 distinct rows with unique request ids. Files are written to
--dir (default: a temporary folder, deleted afterwards) and reused when found there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = 200
TODAY = "f83d00f"  # main when issue 20 was filed (2026-12-01 11:04 UTC; its next commit is from 11:15)

# What an analyst might write by hand in DuckDB for about the same numbers, without the parser's exactness:
# volume per task x model x day (requests, tokens, cached tokens, logged cost) and a seeded per-(task, model)
# sample of the requests with a prompt. {src} is the relation of rows, JSON columns as JSON text.
HAND_SQL = """
WITH r AS (
  SELECT request_id, model, spend, prompt_tokens, completion_tokens, status = 'success' AS ok,
    coalesce(nullif(regexp_extract(list_filter(coalesce(
                 from_json(json_extract(proxy_server_request, '$.metadata.caller_tags'), '["VARCHAR"]'),
                 from_json(request_tags, '["VARCHAR"]')), lambda t: t LIKE 'task:%')[1],
               '^task:\\s*(.*?)\\s*$', 1), ''),
             json_extract_string(proxy_server_request, '$.metadata.requester_metadata.task'),
             json_extract_string(proxy_server_request, '$.metadata.task'), 'untagged') AS task,
    strftime(CAST(startTime AS TIMESTAMPTZ), '%Y-%m-%d') AS day,
    coalesce(CAST(json_extract(metadata, '$.usage_object.prompt_tokens_details.cached_tokens') AS BIGINT), 0)
      AS cached,
    coalesce(json_array_length(proxy_server_request, '$.messages'), 0) > 0 AS replayable
  FROM {src}
), volume AS (
  SELECT task, model, day, count(*) AS n, sum(prompt_tokens), sum(completion_tokens), sum(cached), sum(spend) AS cost
  FROM r GROUP BY task, model, day
), sample AS (
  SELECT task, model, min_by(request_id, md5('0:' || request_id), {size}) AS ids
  FROM r WHERE replayable AND ok GROUP BY task, model
)
SELECT * FROM volume LEFT JOIN sample USING (task, model)
"""

JSON_COLUMNS = ("{request_id: 'VARCHAR', model: 'VARCHAR', spend: 'DOUBLE', prompt_tokens: 'BIGINT', "
                "completion_tokens: 'BIGINT', status: 'VARCHAR', request_tags: 'VARCHAR', metadata: 'VARCHAR', "
                "proxy_server_request: 'VARCHAR', startTime: 'VARCHAR'}")

SCAN = """
import sys, time
try:
    from tiertool.ingest import scan
except ImportError:  # a release before the one pass (ingest.scan): the audit's own pass, as it read the log
    from tiertool.audit import _read
    from tiertool.ingest import read_logs
    volume, samples, _, _ = _read(read_logs([sys.argv[1]], None, "auto", None), {size}, 0)
    print(sum(u.requests for u in volume.by.values()), round(sum(u.logged_cost for u in volume.by.values()), 6),
          sum(map(len, samples.values())))
    sys.exit()
kw = {{"engine": sys.argv[2]}} if sys.argv[2] != "baseline" else {{}}
traffic = scan([sys.argv[1]], sample={size}, seed=0, **kw)
n = sum(u.requests for u in traffic.volume.values())
print(n, round(sum(u.logged_cost for u in traffic.volume.values()), 6), sum(map(len, traffic.strata.values())))
"""

HAND = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
rows = con.execute(sys.argv[2].replace("{src}", sys.argv[1])).fetchall()
sampled = {(r[0], r[1]): len(r[8] or ()) for r in rows}
print(sum(r[3] for r in rows), round(sum(r[7] or 0 for r in rows), 6), sum(sampled.values()))
"""

SAME = """
import sys, duckdb
from tiertool.ingest.engines.files import DuckDB, ParquetFile
query = ParquetFile(sys.argv[1], DuckDB(), "auto", 0, {size}, False).query  # the SQL scan(engine="duckdb") runs
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
rows = con.execute(query).fetchall()
print(sum(r[5] for r in rows if r[0] == 0), len(rows))
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, stdout) of a command run alone; reaped here, so the rusage is its own."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            sys.exit(f"{' '.join(cmd[:3])}... failed:\n{err.read().decode()[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.decode().strip()


def line(name: str, t: float, mem: float, out: str) -> None:
    print(f"  {name:<44} {t:8.1f} s  peak {mem:7.0f} MiB   ({out})", flush=True)


def verdict(ratio: float, met: bool) -> str:
    return "not measured (--only)" if ratio != ratio else "met" if met else "NOT met"


def write_parquet(path: Path, rows: int, distinct: int = 20_000) -> None:
    """`rows` spend rows tiled from `distinct` generated ones, pruned as spend_light.KEEP prunes them."""
    import numpy as np
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from benchmarks.spend_rows import rows as spend_rows
    from tiertool.ingest import spend_light

    base = []
    for row in spend_rows(distinct):
        pruned = spend_light.project(orjson.dumps(row)) or row
        base.append({k: orjson.dumps(v).decode() if k in spend_light.KEEP and isinstance(v, dict) else v
                     for k, v in pruned.items()})
    table = pa.Table.from_pylist(base)
    ids = table.schema.get_field_index("request_id")
    with pq.ParquetWriter(path, table.schema, compression="zstd") as out:
        for start in range(0, rows, 500_000):
            idx = np.arange(start, min(rows, start + 500_000))
            part = table.take(pa.array(idx % distinct))
            rid = pc.binary_join_element_wise("req-", pc.cast(pa.array(idx), pa.string()), "")
            out.write_table(part.set_column(ids, "request_id", rid), row_group_size=100_000)


def _written(args: argparse.Namespace, data: Path) -> Path:
    """The data file, written by a subprocess (a child forked from a big parent would report its peak memory)."""
    if not data.exists():
        t, _, _ = run([sys.executable, __file__, args.what, "--rows", str(args.rows), "--write-to", str(data)])
        print(f"wrote {args.rows:,} rows to {data.name} ({data.stat().st_size / 2**20:,.0f} MiB) in {t:.0f} s")
    return data


def _write(what: str, rows: int, path: Path) -> None:
    if what == "parquet":
        write_parquet(path, rows)
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.spend_rows import write_jsonl

    write_jsonl(path, rows)


def measure(steps: list[tuple[str, list[str], dict[str, str] | None]], repeat: int, only: list[str] | None = None
            ) -> dict[str, tuple[float, float, str]]:
    """Each step run `repeat` times, interleaved (A B C A B C ...) so that a change in the machine's load falls on
    all of them alike; per step the median time, the largest peak memory and the output (which must not vary).
    `only`: the steps to run (the others are left out of the figures)."""
    if only:
        unknown = set(only) - {name for name, _, _ in steps}
        if unknown:
            sys.exit(f"--only: no step {', '.join(sorted(unknown))}; steps are {', '.join(n for n, _, _ in steps)}")
        steps = [step for step in steps if step[0] in only]
    times: dict[str, list[float]] = {name: [] for name, _, _ in steps}
    mems: dict[str, float] = {}
    outs: dict[str, str] = {}
    for k in range(repeat):
        for name, cmd, env in steps:
            t, mem, out = run(cmd, env)
            times[name].append(t)
            mems[name] = max(mems.get(name, 0.0), mem)
            if not _same(outs.setdefault(name, out), out):
                sys.exit(f"{name}: run {k + 1} gave {out}, run 1 gave {outs[name]}")
            print(f"    run {k + 1}/{repeat} {name}: {t:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    return {name: (statistics.median(times[name]), mems[name], outs[name]) for name in times}


def _same(a: str, b: str) -> bool:
    """Two runs' outputs agree: the same words, numbers equal up to the order of a parallel float sum (DuckDB's
    sum of costs may differ in the last printed digit from run to run)."""
    x, y = a.split(), b.split()
    if len(x) != len(y):
        return False
    for u, v in zip(x, y, strict=True):
        if u == v:
            continue
        try:
            if abs(float(u) - float(v)) > 1e-9 * max(abs(float(u)), 1.0):
                return False
        except ValueError:
            return False
    return True


def bench_parquet(args: argparse.Namespace, folder: Path) -> None:
    data = _written(args, folder / f"spend-{args.rows}.parquet")
    py = sys.executable
    hand = HAND_SQL.format(src="read_parquet('{src}')", size=SAMPLE)
    got = measure([("tiertool", [py, "-c", SCAN.format(size=SAMPLE), str(data), "duckdb"], None),
                   ("same", [py, "-c", SAME.format(size=SAMPLE), str(data)], None),
                   ("hand", [py, "-c", HAND, str(data), hand], None)], args.repeat, args.only)
    missing = (float("nan"), float("nan"), "not run")
    (te, me, oe), (ts, ms, os_), (th, mh, oh) = (got.get(k, missing) for k in ("tiertool", "same", "hand"))
    print(f"{args.rows:,} spend rows as Parquet, aggregate + sample of {SAMPLE} per task and model "
          f"(median of {args.repeat} interleaved runs):")
    line("tiertool scan(engine='duckdb')", te, me, f"requests, cost, sampled: {oe}")
    line("DuckDB by hand, the same SQL on read_parquet", ts, ms, f"requests, result rows: {os_}")
    line("DuckDB by hand, a minimal aggregate (HAND_SQL)", th, mh, f"requests, cost, sampled: {oh}")
    print(f"  ratio tiertool / the same SQL by hand: time {te / ts:.2f}x (target <= 1.2: "
          f"{verdict(te / ts, te / ts <= 1.2)}); memory {me / ms:.2f}x")
    print(f"  ratio tiertool / minimal aggregate: time {te / th:.2f}x (the cost of reading rows as the parser does)")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def bench_jsonl(args: argparse.Namespace, folder: Path) -> None:
    data = _written(args, folder / f"spend-{args.rows}.jsonl")
    old = folder / f"baseline-{args.baseline}"
    if not old.exists():
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "tiertool"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline], capture_output=True,
                             text=True).stdout.strip()
        (old / "REV").write_text(rev)
    rev = (old / "REV").read_text().strip()
    py, code = sys.executable, SCAN.format(size=SAMPLE)
    hand = HAND_SQL.format(src=f"read_json('{{src}}', format='newline_delimited', columns={JSON_COLUMNS})",
                           size=SAMPLE)
    got = measure([("main", [py, "-c", code, str(data), "baseline"], {**os.environ, "PYTHONPATH": str(old)}),
                   ("stream", [py, "-c", code, str(data), "stream"], None),
                   ("stream1", [py, "-c", code, str(data), "stream"], {**os.environ, "TIERTOOL_READ_WORKERS": "1"}),
                   ("duckdb", [py, "-c", code, str(data), "duckdb"], None),
                   ("read_json", [py, "-c", HAND, str(data), hand], None)], args.repeat, args.only)
    missing = (float("nan"), float("nan"), "not run")
    (tb, mb, ob), (ts, ms, os_), (t1, m1, o1), (td, md, od), (tj, mj, oj) = (
        got.get(k, missing) for k in ("main", "stream", "stream1", "duckdb", "read_json"))
    print(f"{args.rows:,} real-shape LiteLLM spend lines, aggregate + sample of {SAMPLE} per task and model "
          f"(median of {args.repeat} interleaved runs):")
    line(f"{args.baseline} ({rev}) streaming reader", tb, mb, f"requests, cost, sampled: {ob}")
    line(f"this streaming reader ({_cores()} cores)", ts, ms, f"requests, cost, sampled: {os_}")
    line("this streaming reader, one process", t1, m1, f"requests, cost, sampled: {o1}")
    line("tiertool scan(engine='duckdb')", td, md, f"requests, cost, sampled: {od}")
    line("DuckDB by hand: read_json + the SQL", tj, mj, f"requests, cost, sampled: {oj}")
    print(f"  streaming speed-up over {args.baseline}: {tb / ts:.2f}x (target >= 2: "
          f"{verdict(tb / ts, tb / ts >= 2)}); in one process: {tb / t1:.2f}x")
    print(f"  ratio DuckDB path / read_json: {td / tj:.2f}x (target <= 2: {verdict(td / tj, td / tj <= 2)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("parquet", "jsonl"))
    ap.add_argument("--rows", type=int)
    ap.add_argument("--baseline", default=TODAY, help="git revision whose streaming reader is the baseline "
                    "(default: main as issue 20 was filed)")
    ap.add_argument("--dir", type=Path, help="where the data is written (and kept)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each step, interleaved; the median is shown")
    ap.add_argument("--only", type=lambda v: v.split(","), help="steps to run, comma-separated (parquet: tiertool, "
                    "same, hand; jsonl: main, stream, duckdb, read_json); a ratio without its two steps shows nan")
    ap.add_argument("--write-to", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.rows = args.rows or (10_000_000 if args.what == "parquet" else 1_000_000)
    if args.write_to:
        _write(args.what, args.rows, args.write_to)
        return
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores (timings are noisy "
          f"when it is above the core count)")
    bench = bench_parquet if args.what == "parquet" else bench_jsonl
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        bench(args, args.dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench(args, Path(tmp))


if __name__ == "__main__":
    main()
