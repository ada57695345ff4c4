"""Bad input: every case is one clear message naming file and line; nothing is lost; no tracebacks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests import ingest_samples as S
from tests.readkit import FIXTURES
from tiertool.cli import app
from tiertool.errors import InputError
from tiertool.ingest import read_logs, sources

runner = CliRunner()
GOOD = {"request_id": "r1", "spend": 0.001, "startTime": "2026-01-01T00:00:00Z", "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}], "response": "hello", "request_tags": ["task:greet"],
        "prompt_tokens": 5, "completion_tokens": 1}


def inspect(*args: str):
    return runner.invoke(app, ["inspect", *args])


def drain(reader) -> list:
    """The reader's requests; a log that gave none raises InputError once read (and only then)."""
    try:
        return list(reader)
    except InputError as e:
        assert reader.stats.records == 0 and ("no record could be read" in str(e) or "nothing to read" in str(e))
        return []


def test_each_bad_line_is_named_with_file_line_and_reason(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(GOOD),
             json.dumps(GOOD)[:40],                                     # 2 truncated
             "this is not json",                                        # 3
             "[1, 2]",                                                  # 4 wrong shape
             json.dumps({**GOOD, "prompt_tokens": "many"}),            # 5 wrong type
             json.dumps({"hello": "world"}),                            # 6 unknown format
             "",                                                        # 7 empty
             json.dumps({**GOOD, "request_tags": "x"}).encode().decode() + "\u00e9"]  # 8 trailing junk
    data = ("\n".join(lines) + "\n").encode() + b'{"request_id": "caf\xe9"}\n'  # 9 latin-1 byte
    path.write_bytes(data)
    r = inspect(str(path), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["lines"], out["records"], out["skipped"]) == (9, 1, 8)
    by_line = {ex: x["reason"] for x in out["skip_reasons"] for ex in x["examples"]}
    assert "truncated" in by_line[f"{path}:2"]
    assert "not valid JSON" in by_line[f"{path}:3"]
    assert by_line[f"{path}:4"] == "expected a JSON object, got list"
    assert "'prompt_tokens' must be a finite number, got 'many'" in by_line[f"{path}:5"]
    assert "not a record of any known format (fields hello)" in by_line[f"{path}:6"]
    assert by_line[f"{path}:7"] == "empty line"
    assert "not UTF-8" in by_line[f"{path}:9"]
    text = inspect(str(path)).output
    assert f"{path}:3" in text and "Traceback" not in text


def test_strict_exits_2_naming_the_first_skipped_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{broken\n", encoding="utf-8")
    r = inspect(str(path), "--strict")
    assert r.exit_code == 2
    assert f"--strict: 1 line(s) skipped; first: {path}:2" in r.output
    assert inspect(str(S.jsonl(tmp_path / "ok.jsonl", [GOOD])), "--strict").exit_code == 0


def test_audit_strict_stops_before_any_call(tmp_path, monkeypatch):
    from tests.conftest import write_config
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(GOOD) + "\nnope\n", encoding="utf-8")
    write_config(tmp_path / "tiertool.yaml", "http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["audit", str(path), "--strict", "--offline"])
    assert r.exit_code == 2 and f"{path}:2: not valid JSON" in r.output


@pytest.mark.parametrize("make, expect", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file, not text"),
])
def test_empty_and_binary_files_are_errors(tmp_path, make, expect):
    path = tmp_path / "x.jsonl"
    make(path)
    r = inspect(str(path))
    assert r.exit_code == 2 and f"{path}:" in r.output and expect in r.output and "Traceback" not in r.output



def _flip(data: bytes) -> bytes:
    """The pages' bytes damaged, the footer (schema) left whole."""
    return data[:200] + bytes(b ^ 0x5A for b in data[200:2000]) + data[2000:]


@pytest.mark.parametrize("damage, expect", [
    (lambda data: data[: len(data) // 2], "not a readable Parquet file"),
    (_flip, "row 1 onwards is not readable Parquet"),
])
def test_a_damaged_parquet_file_is_a_one_line_error(tmp_path, damage, expect):
    path = tmp_path / "traces.parquet"
    path.write_bytes(damage((FIXTURES / "producers" / "mlflow_traces.parquet").read_bytes()))
    r = inspect(str(path))
    assert r.exit_code == 2 and f"{path}: {expect}" in r.output and "Traceback" not in r.output

def test_a_parquet_json_column_is_read_as_the_json_it_holds(tmp_path):
    """Parquet's JSON type (DuckDB writes it for a column whose values differ in type) holds JSON text: each value
    is read as the JSON it holds, as on a JSON line; text that is not JSON skips its row, with the column named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.enginekit import producer_rows

    rows = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()}
            for r in producer_rows()[:3]]
    table = pa.Table.from_pylist(rows)
    models = [json.dumps(rows[0]["model"]), "{not json", json.dumps(rows[2]["model"])]
    table = table.set_column(table.schema.get_field_index("model"), "model", pa.array(models, type=pa.json_()))
    path = tmp_path / "spend.parquet"
    pq.write_table(table, path)
    reader = read_logs([path])
    got = drain(reader)
    assert [r.model for r in got] == [rows[0]["model"], rows[2]["model"]]
    assert reader.stats.skipped == 1 and reader.stats.lines == 3
    assert reader.stats.examples[0].source == f"{path}:row 2"
    assert reader.stats.examples[0].reason == ("column 'model' is of Parquet's JSON type but holds text that is "
                                               "not JSON: '{not json'")


@pytest.mark.parametrize("args, expect", [
    (["nope.jsonl"], "nope.jsonl: no such file"),
    (["log.jsonl", "--format", "nonsense"], "--format nonsense: unknown format; known: litellm-spend"),
    (["log.jsonl", "--map", "prompt"], "'prompt' is not KEY=COLUMN"),
    (["log.jsonl", "--map", "prompt=a,colour=b,model=c"], "unknown key 'colour'"),
    (["log.jsonl", "--map", "response=a"], "--map needs prompt=COLUMN and model=COLUMN"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path, monkeypatch, args, expect):
    monkeypatch.chdir(tmp_path)
    S.jsonl(tmp_path / "log.jsonl", [GOOD])
    r = inspect(*args)
    assert r.exit_code == 2 and expect in r.output and "Traceback" not in r.output


def test_wrong_format_says_what_the_line_looks_like(tmp_path):
    path = S.jsonl(tmp_path / "log.jsonl", [GOOD, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}])
    out = json.loads(inspect(str(path), "--format", "openai-chat", "--json").output)
    assert out["skipped"] == 1
    assert "not a openai-chat record (fields completion_tokens" in out["skip_reasons"][0]["reason"]
    assert out["skip_reasons"][0]["reason"].endswith("it looks like litellm-spend")
    only = S.jsonl(tmp_path / "only.jsonl", [GOOD])  # nothing read at all: an error, not a green run
    r = inspect(str(only), "--format", "openai-chat")
    assert r.exit_code == 2 and f"{only}: no record could be read" in r.output
    assert "it looks like litellm-spend" in r.output


def test_mixed_formats_in_one_file_are_read_and_noted(tmp_path):
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "yo"}]}
    path = S.jsonl(tmp_path / "both.jsonl", [GOOD, chat, GOOD])
    out = json.loads(inspect(str(path), "--json").output)
    assert out["records"] == 3 and out["files"][0]["format"] == "litellm-spend+openai-chat"
    assert "mixed formats in one file" in out["notes"][0]


def test_huge_line_is_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_LINE", 1000)
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "response": "x" * 5000}) + "\n"
                    + json.dumps(GOOD) + "\n", encoding="utf-8")
    reader = read_logs([path])
    assert len(list(reader)) == 2
    assert reader.stats.examples[0].source == f"{path}:2" and "longer than" in reader.stats.examples[0].reason


def test_utf16_and_bom_files_are_read(tmp_path):
    u16 = tmp_path / "u16.jsonl"
    u16.write_bytes((json.dumps(GOOD) + "\n").encode("utf-16"))
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (json.dumps(GOOD) + "\n").encode())
    reader = read_logs([u16, bom])
    assert len(list(reader)) == 2 and reader.stats.skipped == 0


def test_gzip_logs_are_read(tmp_path):
    import gzip
    path = tmp_path / "log.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(GOOD) + "\n")
    assert len(list(read_logs([path]))) == 1


def test_csv_errors_name_the_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("q,a\nhi,there\nonly-one-field\n", encoding="utf-8")
    r = inspect(str(path))
    assert r.exit_code == 2 and "needs a column map" in r.output and "columns are: q, a" in r.output
    r = inspect(str(path), "--map", "prompt=question,model=a")
    assert r.exit_code == 2 and f"{path}:1: --map prompt=question: no such column" in r.output
    out = json.loads(inspect(str(path), "--map", "prompt=q,model=a", "--json").output)
    assert out["records"] == 1 and out["skip_reasons"][0]["reason"] == "row has 1 fields, the header has 2"
    r = inspect(str(path), "--format", "helicone")
    assert r.exit_code == 2 and "a CSV log is read with --map" in r.output
    txt = tmp_path / "export.txt"  # a CSV by content, not by name
    txt.write_text("q,a\nhi,gpt-4o\n", encoding="utf-8")
    assert json.loads(inspect(str(txt), "--map", "prompt=q,model=a", "--json").output)["records"] == 1


LINES = st.one_of(
    st.just(json.dumps(GOOD)),
    st.builds(lambda n: json.dumps({**GOOD, "prompt_tokens": n}), st.one_of(st.integers(), st.text(max_size=5))),
    st.builds(lambda d: json.dumps(d), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
    st.text(max_size=40).map(lambda s: s.replace("\n", " ").replace("\r", " ")),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ").decode("latin-1")),
    st.just(json.dumps(GOOD)[: -5]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=25))
def test_records_plus_skipped_is_lines(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("prop") / "log.jsonl"
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass").replace(b"\x00", b"0")
    path.write_bytes(data)
    reader = read_logs([path])
    reqs = drain(reader)
    s = reader.stats
    assert s.records == len(reqs)
    assert s.records + s.skipped == s.lines
    first = next((line for line in lines if line.strip()), "").lstrip()
    try:
        json.loads(data)  # the file is one JSON document: its units are its items
    except ValueError:
        if not first.startswith("[") and (not first.startswith("{") or _parses(first)):
            assert s.lines == len(lines)  # JSON lines: every physical line is accounted for
    assert sum(s.reasons.values()) == s.skipped


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_sqlite_that_is_not_llm_logs_db(tmp_path):
    import sqlite3
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    r = inspect(str(path))
    assert r.exit_code == 2 and "other.db: SQLite file without llm's `responses` or `turns` table" in r.output
    r = inspect(str(S.llm_db(tmp_path)), "--format", "helicone")
    assert r.exit_code == 2 and "the only SQLite log read is llm's logs.db" in r.output


def test_an_array_streams_item_by_item_and_an_oversized_value_says_how_to_convert(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "CHUNK", 64)  # a window smaller than one item: items are read across refills
    path = tmp_path / "big.json"
    path.write_text(json.dumps([GOOD] * 5, indent=2), encoding="utf-8")
    reader = read_logs([path])
    assert len(list(reader)) == 5 and reader.stats.lines == 5
    monkeypatch.setattr(sources, "MAX_DOC", 100)
    r = inspect(str(path))
    assert r.exit_code == 2 and "convert the file to JSON lines first, e.g. jq -c '.[]'" in r.output
    assert f"{path}: one JSON value of over" in r.output


CELLS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=15))
def test_csv_rows_are_all_accounted_for(tmp_path_factory, rows):
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["q", "m", "a"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csvprop") / "log.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    reader = read_logs([path], mapping="prompt=q,model=m,response=a")
    reqs = drain(reader)
    s = reader.stats
    assert s.records == len(reqs) and s.records + s.skipped == s.lines == len(rows)
    good = [r for r in rows if len(r) == 3 and r[1].strip()]
    assert s.records == len(good)
