"""Benchmark: `tiertool inspect` on a generated 1,000,000-line LiteLLM spend log vs
`pandas.read_json(lines=True)` on the same file, in one run; both in fresh subprocesses, timed and with
their peak resident memory (os.wait4 rusage). Targets: at least as fast as pandas, under 1 GB peak.

Then the same on real-shape spend logs: rows shaped like the LiteLLM 1.110.2 proxy's own
(tests/fixtures/producers/litellm_spend_logs.jsonl, ~24 KB a row: the prompt inside the
`proxy_server_request` JSON text, a 9 KB `metadata`), at `--real-lines` and at four times that, so that the
second run's peak memory against the first's shows whether reading stays flat as the log grows (target: under
1.25x for 4x the rows); pandas.read_json on the first is the baseline, in the same run.

`--baseline REV` runs `tiertool inspect` from the tree of git revision REV (its package only, extracted to a
temporary folder, with this environment's libraries) on the same log in the same run, and prints the ratio.

Then a Parquet file in the Langfuse blob export's schema (observations: timestamps, maps, decimals, JSON text
columns) written in one row group as ClickHouse writes it, at a quarter of `--parquet-rows` and at all of them:
`tiertool inspect` streams it in record batches, so its peak memory stays flat while `pandas.read_parquet`'s
grows with the file. Target: tiertool's peak at the full size within 1.25x of its peak at a quarter.

    .venv/bin/python benchmarks/bench_ingest.py            # 1,000,000 lines; real shape 20,000 and 80,000;
                                                           # Parquet 100,000 and 400,000 rows
    .venv/bin/python benchmarks/bench_ingest.py --lines 100000 --real-lines 5000 --parquet-rows 100000
    .venv/bin/python benchmarks/bench_ingest.py --lines 0 --parquet-rows 0   # the real-shape runs only
    .venv/bin/python benchmarks/bench_ingest.py --lines 0 --real-lines 0     # the Parquet runs only

The logs are written to a temporary folder and deleted afterwards. In the synthetic log a third of the rows
stored their prompts (`store_prompts_in_spend_logs`), three quarters carry a `task:` tag, the rest are typed by
template inference; the real-shape rows repeat the fixture's 20 requests with new ids, times, token counts and
prompt text.
"""

from __future__ import annotations

import argparse
import decimal
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = [
    ("Classify the support ticket into one of: billing, bug, feature-request, account, shipping. "
     "Answer with the label only.", "Ticket {n}: {who} reports that the {thing} stopped working after {d} days"),
    ("Extract the order as JSON with keys id, items and total.", "{who} ordered {d} x {thing} for ${n}.00"),
    ("You are a helpful assistant.", "Summarise in one sentence: {who} bought a {thing} and returned it after {d} "
                                     "days because it broke."),
]
TASKS = ["ticket-triage", "order-extract", "summarise", "support-reply", "math"]
WHO = ["Alice", "Bob", "Chandra", "Dmitri", "Eve", "Fatima"]
THINGS = ["printer", "laptop", "kettle", "bicycle", "phone"]
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-3-5-haiku-20241022", "anthropic")]


def write_log(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    t0 = 1767225600
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            model, provider = MODELS[i % 3]
            pt, ct = rng.randint(30, 900), rng.randint(1, 300)
            start = t0 + i * 2.6
            row = {"request_id": f"chatcmpl-{i:09d}", "call_type": "acompletion", "api_key": "88dc28d0f030c5",
                   "spend": round(pt * 2.5e-6 + ct * 1e-5, 8), "total_tokens": pt + ct, "prompt_tokens": pt,
                   "completion_tokens": ct, "startTime": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start))}Z",
                   "endTime": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start + 1))}Z", "model": model,
                   "model_id": "dep-1", "model_group": model, "custom_llm_provider": provider,
                   "api_base": "https://api.example.com", "user": "u-1", "team_id": "team-1",
                   "metadata": {"user_api_key_alias": "prod", "user_api_key_team_id": "team-1",
                                "additional_usage_values": {}},
                   "cache_hit": "False", "cache_key": "Cache OFF",
                   "request_tags": [f"task:{TASKS[i % 5]}"] if i % 4 else [],
                   "end_user": "", "requester_ip_address": "", "messages": {}, "response": {}, "status": "success"}
            if i % 3 == 0:
                system, user = TEMPLATES[i % len(TEMPLATES)]
                text = user.format(n=rng.randint(1, 99999), who=rng.choice(WHO), thing=rng.choice(THINGS),
                                   d=rng.randint(1, 30))
                row["messages"] = [{"role": "system", "content": system}, {"role": "user", "content": text}]
                row["response"] = {"id": f"r{i}", "object": "chat.completion", "model": model,
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "billing"}}],
                                   "usage": {"prompt_tokens": pt, "completion_tokens": ct}}
            fh.write(json.dumps(row) + "\n")


FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "producers" / "litellm_spend_logs.jsonl"


def write_real_log(path: Path, n: int, seed: int = 0) -> None:
    """`n` spend rows in the fixture's exact shape: each a fixture row with its own id, time, tokens, spend and
    prompt text (the prompt stays inside the proxy_server_request JSON text, as LiteLLM writes it)."""
    rng = random.Random(seed)
    templates = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    bodies = [json.loads(t["proxy_server_request"]) for t in templates]
    t0 = 1767225600
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row, body = dict(templates[i % len(templates)]), bodies[i % len(bodies)]
            start = t0 + i * 2.6
            messages = [dict(m) for m in body.get("messages") or ()]
            if messages and isinstance(messages[-1].get("content"), str):
                messages[-1]["content"] += f" (case {rng.randint(1, 10**6)}, {rng.choice(WHO)})"
            pt, ct = rng.randint(20, 1500), rng.randint(1, 300)
            row.update(request_id=f"chatcmpl-{i:09d}", prompt_tokens=pt, completion_tokens=ct,
                       total_tokens=pt + ct, spend=round(pt * 2.5e-6 + ct * 1e-5, 8),
                       startTime=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start)),
                       endTime=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start + 1)),
                       proxy_server_request=json.dumps({**body, "messages": messages}))
            fh.write(json.dumps(row) + "\n")


PANDAS = ("import sys, pandas; df = pandas.read_json(sys.argv[1], lines=True); "
          "print(len(df), df['spend'].sum())")


def run(cmd: list[str]) -> tuple[float, float, bytes, float]:
    """(seconds, peak RSS in MiB, stdout, CPU seconds) of a command run alone; the child is reaped here so its
    rusage is its own. CPU time (user + system) varies less than wall time on a busy machine."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks = []
    while chunk := proc.stdout.read(1 << 16):
        chunks.append(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, b"".join(chunks), usage.ru_utime + usage.ru_stime


def baseline_cli(rev: str, folder: Path) -> list[str]:
    """A command that runs the CLI of git revision `rev`, extracted into `folder` (this checkout's editable install
    is taken off the import path, so the old package is the one imported)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "tiertool"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in "
            f"getattr(f, '__module__', '')]; sys.path.insert(0, {str(folder)!r}); "
            "from tiertool.cli import main; sys.argv[0] = 'tiertool'; main()")
    return [sys.executable, "-c", code]


def write_parquet(path: Path, n: int, seed: int = 0) -> None:
    """`n` Langfuse blob-export observations (hosted/langfuse.source.md columns) in one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    ts = pa.timestamp("ms", tz="UTC")
    schema = pa.schema([("id", pa.string()), ("trace_id", pa.string()), ("type", pa.string()),
                        ("start_time", ts), ("end_time", ts), ("level", pa.string()),
                        ("metadata", pa.map_(pa.string(), pa.string())), ("input", pa.string()),
                        ("output", pa.string()), ("provided_model_name", pa.string()),
                        ("model_parameters", pa.string()), ("usage_details", pa.map_(pa.string(), pa.uint64())),
                        ("total_cost", pa.decimal128(18, 12))])
    with pq.ParquetWriter(path, schema) as writer:
        cols: dict[str, list] = {name: [] for name in schema.names}
        for i in range(n):
            model = MODELS[i % 3][0]
            system, user = TEMPLATES[i % len(TEMPLATES)]
            text = user.format(n=rng.randint(1, 99999), who=rng.choice(WHO), thing=rng.choice(THINGS),
                               d=rng.randint(1, 30))
            pt, ct = rng.randint(30, 900), rng.randint(1, 300)
            row = {"id": f"obs-{i:09d}", "trace_id": f"tr-{i // 2:09d}", "type": "GENERATION",
                   "start_time": 1767225600_000 + i * 2600, "end_time": 1767225601_000 + i * 2600,
                   "level": "DEFAULT", "metadata": [("task", TASKS[i % 5])],
                   "input": json.dumps([{"role": "system", "content": system}, {"role": "user", "content": text}]),
                   "output": json.dumps({"role": "assistant", "content": "billing"}), "provided_model_name": model,
                   "model_parameters": '{"temperature":"0"}', "usage_details": [("input", pt), ("output", ct)],
                   "total_cost": decimal.Decimal(f"{pt * 2.5e-6 + ct * 1e-5:.12f}")}
            for name in schema.names:
                cols[name].append(row[name])
        writer.write_table(pa.table(cols, schema=schema), row_group_size=n)


def parquet_bench(n: int, tiertool: str) -> None:
    code = "import sys, pandas; df = pandas.read_parquet(sys.argv[1]); print(len(df))"
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for size in (n // 4, n):
            path = Path(tmp) / f"observations-{size}.parquet"
            writer = multiprocessing.get_context("spawn").Process(target=write_parquet, args=(path, size))
            writer.start()  # in a fresh process: a child's peak RSS starts at its parent's (exec keeps the
            writer.join()  # high-water mark), so this process must never hold the table itself
            if writer.exitcode:
                sys.exit(f"writing {path} failed ({writer.exitcode})")
            tt, tm, out, _ = run([tiertool, "inspect", str(path), "--json"])
            assert json.loads(out)["records"] == size
            pt, pm, out, _ = run([sys.executable, "-c", code, str(path)])
            assert int(out) == size
            rows.append((size, path.stat().st_size, tt, tm, pt, pm))
            path.unlink()
    for size, nbytes, tt, tm, pt, pm in rows:
        print(f"parquet {size:>9,} rows ({nbytes / 2**20:5.0f} MiB): tiertool {tt:6.1f} s peak {tm:5.0f} MiB | "
              f"pandas.read_parquet {pt:5.1f} s peak {pm:5.0f} MiB | ratio time {tt / pt:.2f}x memory {tm / pm:.2f}x")
    grow_t, grow_p = rows[1][3] / rows[0][3], rows[1][5] / rows[0][5]
    print(f"peak growth from {rows[0][0]:,} to {rows[1][0]:,} rows: tiertool {grow_t:.2f}x, pandas {grow_p:.2f}x; "
          f"target flat (<= 1.25x): {'met' if grow_t <= 1.25 else 'NOT met'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="synthetic rows (0 skips them)")
    ap.add_argument("--real-lines", type=int, default=20_000,
                    help="real-shape rows in the first real-shape run (0 skips them)")
    ap.add_argument("--parquet-rows", type=int, default=400_000, help="Parquet rows at full size (0 skips them)")
    ap.add_argument("--baseline", metavar="REV", help="also time `tiertool inspect` as of this git revision")
    args = ap.parse_args()
    tiertool = str(Path(sys.executable).with_name("tiertool"))
    if args.lines:
        synthetic(tiertool, args.lines, args.baseline)
    if args.real_lines:
        real(tiertool, args.real_lines)
    if args.parquet_rows:
        parquet_bench(args.parquet_rows, tiertool)


def synthetic(tiertool: str, lines: int, baseline: str | None) -> None:
    """The synthetic spend log: `tiertool inspect` against pandas.read_json on the same file."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "spend.jsonl"
        t = time.perf_counter()
        write_log(log, lines)
        size = log.stat().st_size
        print(f"generated {lines:,} lines ({size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f} s")
        tt, tm, out, tc = run([tiertool, "inspect", str(log), "--json"])
        summary = json.loads(out)
        assert summary["records"] == lines, summary["records"]
        # the same, holding no inferred request in memory: the reader parses their lines again after the first pass
        again = ("import sys; import tiertool.ingest.reader as r; r.BUFFER_CHARS = 0; "
                 "from tiertool.cli import main; sys.argv[0] = 'tiertool'; main()")
        at, am, out, ac = run([sys.executable, "-c", again, "inspect", str(log), "--json"])
        assert json.loads(out) == summary
        if baseline:
            (Path(tmp) / "baseline").mkdir()
            bt, bm, out, bc = run([*baseline_cli(baseline, Path(tmp) / "baseline"), "inspect", str(log),
                                   "--json"])
            old = json.loads(out)
            assert old["records"] == lines, old["records"]
        pt, pm, out, pc = run([sys.executable, "-c", PANDAS, str(log)])
        assert int(out.split()[0]) == lines
    print(f"tiertool inspect          : {tt:7.1f} s  cpu {tc:7.1f} s  peak {tm:7.0f} MiB  "
          f"({summary['records']:,} records, {len(summary['tasks'])} task types)")
    print(f"  reading inferred ones again: {at:5.1f} s  cpu {ac:7.1f} s  peak {am:7.0f} MiB  (nothing held in memory)")
    if baseline:
        print(f"inspect as of {baseline:<11} : {bt:7.1f} s  cpu {bc:7.1f} s  peak {bm:7.0f} MiB  "
              f"({old['records']:,} records, {len(old['tasks'])} task types)")
        print(f"ratio this tree/{baseline:<9} : time {tt / bt:.2f}x  cpu {tc / bc:.2f}x  memory {tm / bm:.2f}x"
              f"  (reading again: time {at / bt:.2f}x  cpu {ac / bc:.2f}x)")
    print(f"pandas.read_json(lines=True): {pt:7.1f} s  cpu {pc:7.1f} s  peak {pm:7.0f} MiB")
    print(f"ratio tiertool/pandas     : time {tt / pt:.2f}x  cpu {tc / pc:.2f}x  memory {tm / pm:.2f}x")
    print(f"targets: time <= pandas: {'met' if tt <= pt else 'NOT met'}; "
          f"peak < 1 GB: {'met' if tm < 1024 else 'NOT met'}")


def real(tiertool: str, n: int) -> None:
    """Real-shape spend logs of n and 4n rows: time, throughput and peak memory of `tiertool inspect`, and
    pandas.read_json on the n-row log as the baseline."""
    peaks, times = [], []
    pt = pm = 0.0
    for rows in (n, 4 * n):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "spend_real.jsonl"
            write_real_log(log, rows)
            size = log.stat().st_size / 2**20
            tt, tm, out, _ = run([tiertool, "inspect", str(log), "--json"])
            if rows == n:  # the baseline on the same file, in the same run
                pt, pm, pout, _ = run([sys.executable, "-c", PANDAS, str(log)])
                assert int(pout.split()[0]) == rows
        summary = json.loads(out)
        assert summary["records"] == rows and summary["replayable"] == sum(
            i % 20 < 18 for i in range(rows)), summary["replayable"]  # the fixture's two failures are not
        peaks.append(tm)
        times.append(tt)
        print(f"real-shape spend log {rows:>9,} rows ({size:,.0f} MiB): {tt:6.1f} s  {rows / tt:8,.0f} rows/s  "
              f"{size / tt:5.1f} MiB/s  peak {tm:5.0f} MiB  ({len(summary['tasks'])} task types)")
    print(f"pandas.read_json(lines=True) on the {n:,}-row log: {pt:6.1f} s  peak {pm:5.0f} MiB; ratio "
          f"tiertool/pandas: time {times[0] / pt:.2f}x  memory {peaks[0] / pm:.3f}x")
    print(f"ratio peak memory 4x rows / 1x rows: {peaks[1] / peaks[0]:.2f}x "
          f"(target < 1.25x: {'met' if peaks[1] / peaks[0] < 1.25 else 'NOT met'})")


if __name__ == "__main__":
    main()
