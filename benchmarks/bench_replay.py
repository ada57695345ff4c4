"""Replay throughput: tiertool's Replayer next to the raw openai.AsyncOpenAI client, same loopback server, same run.

Rows: the raw client; tiertool in one process (with a budget, so its whole path runs); tiertool with
`replay.workers` processes (no budget: a hard cap keeps the replay in one process); tiertool's own overhead.

    .venv/bin/python benchmarks/bench_replay.py [--calls 1000] [--concurrency 32]

The server is aiohttp in its own process (so that it is not the bottleneck, and not sharing the client's
CPU time). Prints requests/s of both clients, their ratio (target >= 0.5), and tiertool's own overhead per call
(target < 1 ms): the Replayer's full path (cache lookup, budget, rate limits, retries, progress, one SQLite commit
per answer) timed with the provider call replaced by an instant answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BODY = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "fine, thanks"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}).encode()


def serve(sock: socket.socket) -> None:
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


def start_server() -> tuple[multiprocessing.Process, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    proc = multiprocessing.get_context("fork").Process(target=serve, args=(sock,), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    for _ in range(100):  # wait until it answers
        try:
            socket.create_connection(sock.getsockname(), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, base


def messages(i: int, tag: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{tag} question number {i}: how are you?"}]


async def raw_openai(base: str, n: int, concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0)
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with limit:
            r = await client.chat.completions.create(model="gpt-4o-mini", messages=messages(i, "raw"))
            assert r.choices[0].message.content

    await one(-1)  # connection and first-call setup, outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    await client.close()
    return elapsed


def tiertool_run(base: str, n: int, concurrency: int, tag: str, instant: bool = False) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) for n fresh calls through a Replayer."""
    from tiertool.config import Replay, Tier
    from tiertool.records import Answer, Call
    from tiertool.replay.cache import Cache
    from tiertool.replay.engine import Replayer

    tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=base, api_key_env="BENCH_KEY")
    calls = []
    for i in range(n):
        m = tuple(messages(i, tag))
        calls.append(Call.to(tier, m, {}, 10, 5))
    folder = Path(tempfile.mkdtemp())
    replayer = Replayer(Cache(folder / "cache.sqlite"), Replay(concurrency=concurrency), budget=1000.0)
    if instant:
        async def send(call: Call) -> Answer:
            await asyncio.sleep(0)
            return Answer("fine, thanks", "call", cost=4.5e-6, input_tokens=10, output_tokens=5)

        replayer._send = send  # type: ignore[method-assign]
    else:  # litellm's import and first-call setup, outside the timing
        Replayer(Cache(folder / "warm.sqlite"), Replay()).run(
            [Call.to(tier, ({"role": "user", "content": "warm"},), {})])
    t0, c0 = time.perf_counter(), time.process_time()
    answers = replayer.run(calls)
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    assert replayer.stats.sent == n and all(a.text == "fine, thanks" for a in answers.values())
    return elapsed


def tiertool_workers_run(base: str, n: int, concurrency: int, tag: str, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its workers) for n fresh calls over worker processes."""
    import resource

    from tiertool.config import Replay, Tier
    from tiertool.records import Call
    from tiertool.replay.cache import Cache
    from tiertool.replay.engine import Replayer

    tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=base, api_key_env="BENCH_KEY")

    def batch(prefix: str, count: int) -> list[Call]:
        out = []
        for i in range(count):
            m = tuple(messages(i, prefix))
            out.append(Call.to(tier, m, {}, 10, 5))
        return out

    replayer = Replayer(Cache(Path(tempfile.mkdtemp()) / "cache.sqlite"), Replay(concurrency=concurrency,
                                                                                  workers=workers))
    replayer.run(batch(f"warm-{tag}", 8 * workers))  # start the workers and their first-call setup, untimed
    assert replayer._pool is not None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.perf_counter(), time.process_time()
    answers = replayer.run(calls := batch(tag, n))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    replayer.close()  # workers exit, so their CPU time is counted
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    assert all(answers[c.key].text == "fine, thanks" for c in calls)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    ap.add_argument("--workers", type=int, default=2, help="processes for the replay.workers row")
    args = ap.parse_args()
    os.environ["BENCH_KEY"] = "sk-bench"
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    proc, base = start_server()
    try:
        n, c = args.calls, args.concurrency
        raws, ours, own, split = [], [], [], []
        for r in range(args.repeat):  # interleaved, so that a busy machine slows both alike
            raws.append(asyncio.run(raw_openai(base, n, c)))
            ours.append(tiertool_run(base, n, c, f"tiertool{r}"))
            own.append(tiertool_run(base, n, c, f"instant{r}", instant=True))
            split.append(tiertool_workers_run(base, n, c, f"workers{r}", args.workers))
    finally:
        proc.terminate()
        proc.join()
    raw_wall, raw_cpu = min(w for w, _ in raws), min(u for _, u in raws)
    our_wall, our_cpu = min(w for w, _ in ours), min(u for _, u in ours)
    own_wall = min(w for w, _ in own)
    split_wall, split_cpu = min(w for w, _ in split), min(u for _, u in split)
    print(f"{n} calls at concurrency {c} against a loopback aiohttp server (best of {args.repeat}, interleaved)")
    print(f"raw openai.AsyncOpenAI : {n / raw_wall:8.0f} requests/s  {raw_cpu / n * 1e3:6.2f} ms client CPU per call")
    print(f"tiertool Replayer      : {n / our_wall:8.0f} requests/s  {our_cpu / n * 1e3:6.2f} ms client CPU per call")
    print(f"ratio                  : {raw_wall / our_wall:8.2f}  (requests/s, target >= 0.5); "
          f"CPU ratio {raw_cpu / our_cpu:.2f}")
    print(f"tiertool, {args.workers} workers   : {n / split_wall:8.0f} requests/s  {split_cpu / n * 1e3:6.2f} ms CPU "
          f"per call (all processes); ratio {raw_wall / split_wall:.2f}")
    print(f"tiertool's own overhead: {own_wall / n * 1e3:8.3f} ms per call (target < 1 ms; provider call made instant)")


if __name__ == "__main__":
    main()
