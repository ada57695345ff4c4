"""Untrusted text on its way to a person: log content, model answers and provider errors can carry terminal
escape sequences (set the window title, hide the rest of the output) and secrets. Every terminal and markdown
renderer, `inspect` and the CLI's messages pass such text through `printable`; error messages are masked
before they are clipped (`mask_then_clip`), so a cut never leaves half a key behind."""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 and C1 controls, DEL, the bidirectional overrides and isolates, and the Unicode line separators: each can
# move the cursor, open an escape sequence or reorder what a reader sees.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_BREAKS = re.compile("[\n\t]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, newlines: bool = False) -> str:
    """The text with every control character shown as an escape (`\\x1b`), so it prints as itself. With
    `newlines`, line breaks and tabs stay (multi-line examples); without, they are escaped too (one-line
    fields: task names, reasons, file names)."""
    text = _CONTROL.sub(_escape, text)
    return text if newlines else _BREAKS.sub(_escape, text)


def mask(text: str, secrets: Iterable[str]) -> str:
    """Every secret (8 characters or more) in the text replaced by ***, the longest first."""
    for secret in sorted((s for s in set(secrets) if len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def mask_then_clip(text: str, secrets: Iterable[str], limit: int = 300) -> str:
    """First line of a message, secrets masked, then clipped: clipping first could cut a key in two and leave
    its first half unmasked."""
    first = mask(text, secrets).splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
