"""`--redact`: mask customer data in report text before any renderer sees it.

Masks e-mail addresses, phone numbers, payment card numbers (Luhn-valid, 13-19 digits) and API-key-like
strings (well-known key prefixes, bearer tokens, long mixed-case alphanumeric tokens). Applied to every
string of the typed report (model.py), so every format gets the same masking.
"""

from __future__ import annotations

import re
from typing import Any

from .model import Report

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Well-known key shapes first, then any long token mixing upper case, lower case and digits.
API_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_-]{16,}|sk_(?:live|test)_[A-Za-z0-9]{16,}|(?:pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r")"
)
# A bearer token (long, or with a digit), or the value given to a key/token/secret/password field.
BEARER = re.compile(r"(?i)\b(bearer)(\s+)((?=[\w.~+/=-]*\d)[\w.~+/=-]{12,}|[\w.~+/=-]{20,})"
                    r"|\b(api[_-]?key|access[_-]?token|token|secret|password|passwd)(\s*[:=]\s*)([^\s\"',;]{6,})")
LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
# Digit runs with optional single separators; cards and phones are told apart below.
DIGITS = re.compile(r"(?<![\w.])\+?\(?\d(?:[\d]|[ .()-]{1,2}(?=\(?\d)){5,24}\d(?![\w]|\.\d)")
DECIMAL = re.compile(r"^-?\d+\.\d+$")
DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{4}$")


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = re.sub(r"\D", "", text)
    if 13 <= len(digits) <= 19 and luhn(digits):
        return "[card]"
    if DATE.match(text.strip()) or DECIMAL.match(text):
        return text
    grouped = text.startswith("+") or bool(re.search(r"[ .()-]", text))
    if 7 <= len(digits) <= 15 and (grouped or len(digits) >= 10):
        return "[phone]"
    return text


def _long_token(m: re.Match[str]) -> str:
    tok = m.group(0)
    mixed = re.search(r"[a-z]", tok) and re.search(r"[A-Z]", tok) and re.search(r"\d", tok)
    return "[key]" if mixed else tok


def redact(text: str) -> str:
    """The text with e-mails, phone numbers, card numbers and API-key-like strings masked."""
    text = API_KEY.sub("[key]", text)
    text = BEARER.sub(lambda m: f"{m.group(1) or m.group(4)}{m.group(2) or m.group(5)}[key]", text)
    text = EMAIL.sub("[email]", text)
    text = LONG_TOKEN.sub(_long_token, text)
    return DIGITS.sub(_digits, text)


def redact_all(obj: Any) -> Any:
    """Every string value in a JSON-like structure redacted (keys are ours, so they are kept)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_all(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_all(v) for v in obj]
    return obj


def redact_report(report: Report) -> Report:
    """The report with every string value redacted, so every format shows the same masking."""
    return Report.model_validate(redact_all(report.dump()))
