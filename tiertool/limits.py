"""Bounds on untrusted input, defined once: logs, answers, configs and schemas come from elsewhere, so sizes,
nesting, numbers, times and regular expressions are held to ranges that cannot exhaust memory, time or disk.

Regular expressions from a config (regex scorer, cascade check, JSON Schema `pattern`) run on RE2, whose
matching time is linear in the text: `(a+)+$` cannot take 70 seconds on a 25-character answer.
"""

from __future__ import annotations

import codecs
import json
import time
from functools import lru_cache
from typing import Any

MAX_ANSWER_CHARS = 1 << 20  # a model answer longer than this is a failed call (no model writes 1M characters)
MAX_JSON_DEPTH = 100  # nesting of a JSON value parsed from a log field or an answer
MAX_TOKENS = 2**53  # token counts: exact in a float, far beyond any real count, and fits SQLite's 64 bits
MIN_TIME = 946684800.0  # 2000-01-01T00:00:00Z: no LLM API call is older
FUTURE_SLACK = 86400.0  # clocks disagree, but a request logged more than a day ahead is not a real time
MAX_YAML_NODES = 100_000  # values a config may expand to, aliases followed (an alias bomb expands to billions)


def latest_time() -> float:
    return time.time() + FUTURE_SLACK


def in_time_window(seconds: float) -> bool:
    return MIN_TIME <= seconds <= latest_time()


def depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a JSON-like value, counted without recursion and given up on past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads(text: str | bytes, max_depth: int | None = MAX_JSON_DEPTH) -> Any:
    """JSON from untrusted text, numbers exact; ValueError when it is not JSON, nests deeper than Python's
    stack allows, or deeper than `max_depth` (None: no limit, for values nothing walks recursively)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    if max_depth is not None and depth(value, max_depth) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return value


def decode(data: bytes) -> str:
    """Text of a file that may be UTF-8 (with or without BOM), UTF-16 or UTF-32 (with BOM), as editors save it;
    ValueError, in words a user can act on, when it is none of them."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as e:
                raise ValueError(f"not valid {encoding.upper()} text (byte {e.start}); re-save it as UTF-8") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte {e.start}); re-save it as UTF-8") from None


class Pattern:
    """A user's regular expression compiled for RE2 (linear-time matching); `search` like re.search."""

    def __init__(self, source: str, ignore_case: bool = False) -> None:
        import re2

        options = re2.Options()
        options.log_errors = False  # the error is ours to report, in one line
        options.case_sensitive = not ignore_case
        try:
            self._compiled = re2.compile(source, options=options)
        except re2.error as e:
            why = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
            raise ValueError(f"pattern {source!r} is not a valid regular expression for RE2 ({why}); patterns "
                             f"run on RE2, which matches in linear time and has no lookaround or backreferences"
                             ) from None
        self.source = source

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None


@lru_cache(maxsize=256)
def pattern(source: str, ignore_case: bool = False) -> Pattern:
    """The compiled pattern (cached: scorers match the same few patterns against every answer)."""
    return Pattern(source, ignore_case)
