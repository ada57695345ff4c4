"""Issue 12, cases 7 and 9 (the machine and the network from config content): regular expressions in linear
time, JSON Schemas resolved offline from the config's folder only and checked before any call, YAML alias bombs
refused, UTF-16 files read, answers too long or nested too deep refused."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.adversarial.kit import audit, config, no_traceback, runner, small_log, spawn
from tests.conftest import make_sample, small_answerer, write_jsonl
from tiertool import cli, load_config
from tiertool.config import Replay, Tier
from tiertool.errors import ConfigError
from tiertool.limits import MAX_ANSWER_CHARS
from tiertool.records import Call
from tiertool.replay.cache import Cache
from tiertool.replay.engine import Replayer
from tiertool.scorers.labels import load_labels

EVIL = "(a+)+$"  # catastrophic backtracking in a backtracking engine: 2^n steps on "aaa...a!"


@pytest.mark.parametrize("where", ["regex scorer", "schema pattern"])
def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path, where):
    """`(a+)+$` on answers of 'a' x 28 + '!': Python's engine takes minutes per answer; RE2 takes microseconds,
    so the whole (offline) audit of 40 answers finishes in seconds."""
    rows, _ = make_sample.synth_log(200, seed=4)
    log = write_jsonl(tmp_path / "spend.jsonl", rows)
    answer = "a" * 28 + "!" if where == "regex scorer" else json.dumps({"v": "a" * 28 + "!"})
    write_jsonl(tmp_path / "recorded.jsonl", [{"model": "openai/gpt-4o-mini", "messages": r["messages"],
                                               "output": answer} for r in rows])
    spec = ({"scorer": "regex", "patterns": [EVIL]} if where == "regex scorer" else
            {"scorer": "json", "compare": "none", "schema": {"properties": {"v": {"pattern": EVIL}}}})
    path = config(tmp_path, "http://127.0.0.1:9/v1", replay=", recorded: recorded.jsonl")
    text = path.read_text()
    path.write_text(text[:text.index("tasks:")] + f"tasks:\n  default: {json.dumps(spec)}\n"
                    + text[text.index("sample:"):])
    started = time.monotonic()
    proc = spawn(["audit", str(log), "--config", str(tmp_path / "tiertool.yaml"), "--out",
                  str(tmp_path / ".tiertool"), "--offline", "-q"])
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the {where} {EVIL!r} did not finish within 90 s")
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 90


@pytest.mark.parametrize("ref, why", [
    ("https://schemas.example.com/order.json", "cannot be resolved"),
    ("file:///etc/passwd", "cannot be resolved"),
    ("../outside.json", "cannot be resolved"),
    ("#/$defs/loop", "a $ref cycle"),
])
def test_schema_refs_resolve_offline_inside_the_config_folder_before_any_call(tmp_path, server_factory, key, ref,
                                                                             why):
    """A `$ref` to the network or outside the config's folder is refused, and a $ref cycle that never consumes
    the answer is refused, when the config is checked: exit 2 and nothing sent (not after round 1)."""
    (tmp_path / "outside.json").write_text('{"type": "object"}')
    project = tmp_path / "project"
    project.mkdir()
    log, small = small_log(project)
    server = server_factory(small_answerer(small))
    schema = {"$ref": ref, "$defs": {"loop": {"allOf": [{"$ref": "#/$defs/loop"}]}}}
    config(project, server.api_base).write_text((project / "tiertool.yaml").read_text().replace(
        "order-extract: {scorer: json}", f"order-extract: {{scorer: json, schema: {json.dumps(schema)}}}"))
    r = audit(project, log)
    no_traceback(r)
    assert r.exit_code == 2 and why in r.output, r.output
    assert server.attempts == 0


def test_local_and_recursive_schemas_still_work(tmp_path, server_factory, key):
    """What stays allowed: a $ref to a file beside the config (UTF-16 with BOM, as Windows editors save it) and a
    recursive schema that descends into the value."""
    log, small = small_log(tmp_path)
    server = server_factory(small_answerer(small))
    defs = {"type": "object", "required": ["customer"], "properties": {"customer": {"type": "string"},
                                                                        "parts": {"type": "array",
                                                                                  "items": {"$ref": "#"}}}}
    (tmp_path / "order.json").write_bytes(json.dumps(defs).encode("utf-16"))
    path = config(tmp_path, server.api_base)
    path.write_bytes(path.read_text().replace(  # the config itself in UTF-16 too
        "order-extract: {scorer: json}", 'order-extract: {scorer: json, schema: {"$ref": "order.json"}}'
    ).encode("utf-16"))
    r = audit(tmp_path, log)
    assert r.exit_code == 0, r.output
    assert server.attempts == 40


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Six aliases deep, ten wide: a million values from 300 bytes (nine deep would be a billion); refused at
    load, in milliseconds, before anything walks it."""
    levels = ", ".join(["b0: &b0 [lol]"] + [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 7)])
    (tmp_path / "tiertool.yaml").write_text(
        "tiers: [{name: a, model: m1}, {name: b, model: m2}]\n"
        f"tasks: {{t: {{scorer: json, schema: {{x-levels: {{{levels}}}, enum: *b6}}}}}}\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_config(tmp_path / "tiertool.yaml")
    assert time.monotonic() - started < 2


def test_utf16_config_and_labels_are_read(tmp_path):
    (tmp_path / "tiertool.yaml").write_bytes("tiers: [{name: a, model: m1}, {name: b, model: m2}]\n".encode("utf-16"))
    assert [t.name for t in load_config(tmp_path / "tiertool.yaml").tiers] == ["a", "b"]
    (tmp_path / "labels.jsonl").write_bytes('{"request_id": "r1", "passed": true}\n'.encode("utf-16"))
    assert load_labels(tmp_path / "labels.jsonl").grades[("r1", None)][0].passed


def test_an_answer_past_the_size_limit_is_a_failed_call_and_never_cached(tmp_path, server_factory, key):
    server = server_factory(lambda model, messages: "x" * (MAX_ANSWER_CHARS + 1))
    tier = Tier(name="small", model="openai/gpt-4o-mini", api_base=server.api_base, api_key_env="TIERTOOL_TEST_KEY")
    cache = Cache(tmp_path / "c.sqlite")
    calls = [Call.to(tier, ({"role": "user", "content": f"q{i}"},), {}) for i in range(2)]
    answers = Replayer(cache, Replay(max_attempts=1)).run(calls)
    assert all(a.text is None and "over the 1,048,576 limit" in a.error for a in answers.values())
    assert cache.db.execute("SELECT count(*) FROM answers").fetchone()[0] == 0


def test_an_answer_nested_past_the_depth_limit_is_scored_not_crashed(tmp_path, server_factory, key):
    """A 5,000-deep JSON answer to a json task: a failing score with its reason, no RecursionError."""
    deep = "[" * 5000 + "]" * 5000
    server = server_factory(lambda model, messages: deep)
    log, _ = small_log(tmp_path)
    config(tmp_path, server.api_base)
    r = audit(tmp_path, log)
    no_traceback(r)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["report", "-f", "json", "--audit", str(tmp_path / ".tiertool")])
    extract = next(t for t in json.loads(r.output)["tasks"] if t["task"] == "order-extract")
    assert extract["tiers"][0]["scored"] == 10 and extract["tiers"][0]["passed"] == 0
