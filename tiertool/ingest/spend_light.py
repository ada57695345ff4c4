"""The one pass's fast path over LiteLLM spend lines: build only the parts of the two bulky documents that the
parser reads.

A real spend row is ~21 KB, mostly JSON text inside JSON: `metadata` (~12.7 KB, 8.9 KB of it the price-map entry)
and `proxy_server_request` (~8.2 KB, ~6.8 KB of it the proxy's `metadata`: the key's auth object, the provider's
response headers, routing state). Building Python objects for them is most of the cost of reading a log.
`project(line)` decodes the line as the reader does, then those two documents with msgspec, building only the
keys in KEEP (msgspec skips the others without making objects). The parser then reads the row as always.
A line outside these shapes (not an object, JSON that msgspec refuses) returns None and is read in full.
tests/test_spend_light.py checks that the parser reads every producer-written row the same both ways.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .sources import loads

# What the parser (litellm_spend.parse) reads of the bulky objects: a tuple keeps those keys only; a dict keeps
# every key and prunes the named ones further.
KEEP: dict[str, Any] = {
    "metadata": ("task", "usage_object", "error_information"),
    "proxy_server_request": {"metadata": ("task", "tags", "caller_tags", "requester_metadata", "headers")},
}

UNSET: Any = msgspec.UNSET
_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_any = msgspec.json.Decoder()
_struct: dict[tuple[str, ...], msgspec.json.Decoder] = {}


def _keys(keys: tuple[str, ...]) -> msgspec.json.Decoder:
    """A decoder that builds only these keys of an object (absent ones stay absent)."""
    if keys not in _struct:
        kind = msgspec.defstruct("Kept", [(f"k{i}", Any, UNSET) for i in range(len(keys))],
                                 rename={f"k{i}": key for i, key in enumerate(keys)})
        _struct[keys] = msgspec.json.Decoder(kind)
    return _struct[keys]


def _pruned(raw: msgspec.Raw | bytes, keep: Any) -> Any:
    """The value of `raw` with only `keep` built. A string holding a JSON object becomes that object, as the
    parser's maybe_json reads it; a value that is no object is decoded in full."""
    data = bytes(raw)
    if data[:1] == b'"':
        text = _any.decode(data)
        if not (isinstance(text, str) and text[:1] == "{"):
            return text
        data = text.encode()
    elif data[:1] != b"{":
        return _any.decode(data)
    if isinstance(keep, tuple):
        kept = _keys(keep).decode(data)
        return {key: v for i, key in enumerate(keep) if (v := getattr(kept, f"k{i}")) is not UNSET}
    return {key: _pruned(value, keep[key]) if key in keep else _any.decode(value)
            for key, value in _fields.decode(data).items()}


def project(line: bytes) -> dict[str, Any] | None:
    """The row of this line with only what the parser reads of KEEP's objects; None: read the line in full."""
    try:
        row = loads(line)
        if not isinstance(row, dict):
            return None
        for name, keep in KEEP.items():
            value = row.get(name)
            if isinstance(value, str) and value[:1] == "{":  # JSON text, as LiteLLM's JSON columns are exported
                row[name] = _pruned(value.encode(), keep)
    except (ValueError, UnicodeEncodeError):  # msgspec.DecodeError and orjson's errors are ValueErrors
        return None
    return row
