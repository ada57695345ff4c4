"""The one pass's fast path over LiteLLM spend lines: decode only what the parser reads.

A real spend row is ~21 KB, mostly JSON text inside JSON: `metadata` (~12 KB, the price-map entry) and
`proxy_server_request` (~7.5 KB, the request headers twice). Decoding them into Python objects is most of the cost
of reading a log. `project(line)` decodes the line with msgspec, keeping only the keys litellm_spend.parse reads,
and cuts those two documents down to the keys it reads from them (msgspec skips the rest without building
objects). The parser itself then reads the projected row, so the request is the parser's own, except that its
`metadata` holds only those keys. A line outside these shapes returns None and is read in full as before.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .common import DECODING_PARAMS

UNSET: Any = msgspec.UNSET


class _Line(msgspec.Struct):
    """The keys litellm_spend.parse reads. It reads all but the sniffed ones with .get, so absent is None; the two
    large documents stay raw."""

    request_id: Any = UNSET  # sniff: litellm_spend.sniff asks whether these keys are there at all
    spend: Any = UNSET
    startTime: Any = UNSET  # noqa: N815 - LiteLLM's column names
    call_type: Any = UNSET
    endTime: Any = None  # noqa: N815
    model: Any = None
    model_group: Any = None
    custom_llm_provider: Any = None
    request_tags: Any = None
    messages: Any = None
    response: Any = None
    prompt_tokens: Any = None
    completion_tokens: Any = None
    status: Any = None
    metadata: msgspec.Raw = msgspec.Raw(b"")
    proxy_server_request: msgspec.Raw = msgspec.Raw(b"")


class _Metadata(msgspec.Struct):
    task: Any = UNSET
    usage_object: Any = UNSET


_Params = msgspec.defstruct("_Params", [(k, Any, UNSET) for k in DECODING_PARAMS])
_line = msgspec.json.Decoder(_Line)
_inner = {name: msgspec.json.Decoder(kind) for name, kind in (("metadata", _Metadata),
                                                              ("proxy_server_request", _Params))}
_text = msgspec.json.Decoder(str)
_any = msgspec.json.Decoder()
DOCUMENTS = ("metadata", "proxy_server_request")


def _present(struct: msgspec.Struct, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k in struct.__struct_fields__ if k not in skip and (v := getattr(struct, k)) is not UNSET}


def _document(name: str, raw: bytes) -> Any:
    """The projected value of a JSON-document field, as maybe_json would see it; raises when unsure."""
    if raw[:1] == b'"':
        text = _text.decode(raw)
        if text[:1] != "{":
            if text[:1] == "[":
                raise ValueError(name)
            return text  # the parser reads a plain string (and refuses it where it needs an object)
        raw = text.encode()
    elif raw == b"null":
        return None
    elif raw[:1] != b"{":
        raise ValueError(name)
    return _present(_inner[name].decode(raw))


def project(line: bytes) -> dict[str, Any] | None:
    """The spend row of this line, reduced to what the parser reads; None when the line must be read in full."""
    try:
        row = _line.decode(line)
        if row.request_id is UNSET or row.spend is UNSET or row.startTime is UNSET and row.call_type is UNSET:
            return None  # not a spend row (litellm_spend.sniff): another format reads it
        out = msgspec.structs.asdict(row)
        for name in ("startTime", "call_type"):
            if out[name] is UNSET:
                del out[name]
        for name in DOCUMENTS:
            raw = bytes(out.pop(name))
            if raw:
                out[name] = _document(name, raw)
        for name in ("request_tags", "messages"):  # maybe_json reads these strings: the same value, decoded faster
            value = out[name]
            if isinstance(value, str) and value[:1] in ("[", "{"):
                out[name] = _any.decode(value)
    except (msgspec.DecodeError, ValueError):
        return None
    return out
