"""Big JSON-lines spend logs parsed by worker processes (ingest/parallel.py) read exactly as in one process:
the same requests (sources, ids, every field), the same skips and reasons, the same counts and samples."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tiertool.cli import app
from tiertool.errors import InputError
from tiertool.ingest import parallel, read_logs, scan, sources

PRODUCERS = Path(__file__).parent / "fixtures/producers"
SPEND = (PRODUCERS / "litellm_spend_logs.jsonl").read_bytes().splitlines()  # litellm's proxy wrote these
OTHER = (PRODUCERS / "litellm_standard_logging.jsonl").read_bytes().splitlines()  # another format's records
ROW = orjson.loads(SPEND[0])


def _bad_tokens() -> bytes:
    return orjson.dumps({**ROW, "prompt_tokens": -5})  # check_ranges refuses it in the worker


def _bad_shape() -> bytes:
    return orjson.dumps({**ROW, "proxy_server_request": "[1, 2]"})  # the parser's shape errors


ODD = [b"", b"   ", b"not json", b"[1, 2]", b'{"a": 1}', b"\xff\xfe broken utf-8", b'"text"', b"{\"request_id\": ",
       b'{"data": [' + SPEND[1] + b"," + SPEND[2] + b"]}"]  # an API page on one line: two units

LINE = st.one_of(st.sampled_from(SPEND), st.sampled_from(OTHER), st.sampled_from(ODD),
                 st.builds(_bad_tokens), st.builds(_bad_shape))


def _read(path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setenv(parallel.ENV, str(workers))
    reader = read_logs([path], light=True)
    try:
        requests = [(r.source, r) for r in reader]
    except InputError as e:
        return ("error", str(e))
    s = reader.stats
    return (requests, s.lines, s.records, s.skipped, s.reasons, s.examples, s.typing, s.formats, s.notes,
            s.not_replayable)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, min_size=1, max_size=40), chunk=st.integers(4000, 60000), newline=st.booleans(),
       first=st.sampled_from(SPEND[:3]))
def test_workers_read_every_line_as_one_process_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     lines: list[bytes], chunk: int, newline: bool,
                                                     first: bytes) -> None:
    """Whatever the lines (spend rows, another format's, pages, bad JSON, rows the parser refuses, a last line
    without its newline) and wherever the ranges split them, the reader gives the same."""
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"\n".join([first, *lines]) + (b"\n" if newline else b""))
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK", chunk)
    assert parallel.applies(path, 2)
    assert _read(path, 2, monkeypatch) == _read(path, 1, monkeypatch)


def test_a_line_over_the_limit_across_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line longer than MAX_LINE is skipped unread in either way, and the ranges it spans give nothing else."""
    path = tmp_path / "spend.jsonl"
    limit = max(map(len, SPEND)) + 10
    path.write_bytes(b"\n".join([SPEND[0], SPEND[1], b'{"x": "' + b"y" * 3 * limit + b'"}', SPEND[2]]) + b"\n")
    monkeypatch.setattr(sources, "MAX_LINE", limit)
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK", limit // 2)
    serial, workers = _read(path, 1, monkeypatch), _read(path, 3, monkeypatch)
    assert workers == serial
    assert serial[3] == 1 and "longer than" in next(iter(serial[4]))


def test_scan_of_a_big_log_is_the_same_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one pass over traffic: volume, task types, samples and read counts, with and without workers."""
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"\n".join(SPEND * 40) + b"\n")
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK", 64 << 10)
    got = {}
    for n in (1, 2):
        monkeypatch.setenv(parallel.ENV, str(n))
        t = scan([path], sample=5, seed=3)
        got[n] = (t.volume, {k: [r for r in v] for k, v in t.strata.items()}, t.tasks, t.offered, t.stats.typing,
                  t.stats.lines, t.stats.records)
    assert got[2] == got[1]
    assert got[1][5] == len(SPEND) * 40


def test_the_cli_reads_the_same_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"\n".join(SPEND * 20 + [b"not json"]) + b"\n")
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK", 32 << 10)
    out = {}
    for n in ("1", "2"):
        result = CliRunner().invoke(app, ["inspect", str(path)], env={parallel.ENV: n, "COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        out[n] = result.output
    assert out["2"] == out["1"]
    assert f"{len(SPEND) * 20 + 1}" in out["1"].replace(",", "")


def _as_is(line: bytes | None, first: bool) -> bytes | None:
    return line


def test_an_early_stop_shuts_the_workers_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spend.jsonl"
    path.write_bytes(b"\n".join(SPEND * 50) + b"\n")
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK", 4 << 10)
    units = parallel.units(path, 2, _as_is)
    assert next(units)[0] == f"{path}:1"
    closer = threading.Thread(target=units.close, daemon=True)
    closer.start()
    closer.join(60)
    assert not closer.is_alive(), "closing the reader hung: the pool's queued ranges were not cancelled"


def test_which_files_and_settings_use_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    plain, zipped, array = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz", tmp_path / "c.json"
    plain.write_bytes(b"\n".join(SPEND) + b"\n")
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    array.write_bytes(b"[" + b",".join(SPEND) + b"]")
    assert parallel.applies(plain, 2) and not parallel.applies(plain, 1)
    assert not parallel.applies(zipped, 2) and not parallel.applies(array, 2)
    monkeypatch.setattr(parallel, "MIN_BYTES", plain.stat().st_size + 1)
    assert not parallel.applies(plain, 2)  # small: read in this process
    monkeypatch.setenv(parallel.ENV, "3")
    assert parallel.workers() == 3
    for bad in ("many", "0", "-2", "1000", "2.5"):
        monkeypatch.setenv(parallel.ENV, bad)
        with pytest.raises(InputError, match=f"TIERTOOL_READ_WORKERS='{bad}': expected a whole number .* to 64"):
            parallel.workers()
    monkeypatch.setenv(parallel.ENV, "64")
    assert parallel.workers() == 64


@pytest.mark.parametrize("newline", [True, False])
def test_ranges_of_any_size_give_each_line_once(tmp_path: Path, newline: bool) -> None:
    """Every range size, so that a range ends at each byte of a line, its newline and the next line's start."""
    lines = [b"a", b"", b"bcd", b"ef", b"", b"", b"ghijk", b"l"]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline else b""))
    size = path.stat().st_size
    for chunk in range(1, size + 2):
        got = [line for start in range(0, size, chunk)
               for line in parallel._read_range(str(path), start, chunk=chunk, parse=_as_is)]
        assert got == lines, chunk
