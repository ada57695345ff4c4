"""`--redact`: property tests that planted customer data never survives, and ordinary text does."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from tiertool.report.redact import API_KEY, luhn, redact, redact_all

words = st.text(alphabet=string.ascii_letters + " ,;!?", max_size=40)
local = st.text(alphabet=string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=20).filter(
    lambda s: s[0].isalnum())
domain = st.lists(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10), min_size=1,
                  max_size=3)
emails = st.builds(lambda u, d, tld: f"{u}@{'.'.join(d)}.{tld}", local, domain,
                   st.sampled_from(["com", "org", "io", "co.uk", "info"]))


@st.composite
def cards(draw) -> str:
    n = draw(st.integers(13, 19))
    body = [draw(st.integers(1, 9))] + draw(st.lists(st.integers(0, 9), min_size=n - 2, max_size=n - 2))
    check = next(d for d in range(10) if luhn("".join(map(str, body + [d]))))
    digits = "".join(map(str, body + [check]))
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))


@st.composite
def phones(draw) -> str:
    cc = draw(st.sampled_from(["+1 ", "+44 ", "+49-", "", "+33 "]))
    area = "".join(map(str, draw(st.lists(st.integers(0, 9), min_size=3, max_size=3))))
    a = "".join(map(str, draw(st.lists(st.integers(0, 9), min_size=3, max_size=3))))
    b = "".join(map(str, draw(st.lists(st.integers(0, 9), min_size=4, max_size=4))))
    shape = draw(st.sampled_from(["({area}) {a}-{b}", "{area}-{a}-{b}", "{area}.{a}.{b}", "{area} {a} {b}"]))
    return cc + shape.format(area=area, a=a, b=b)


token = st.text(alphabet=string.ascii_letters + string.digits, min_size=24, max_size=48)
keys = st.one_of(
    st.builds(lambda t: f"sk-{t}", token), st.builds(lambda t: f"sk-proj-{t}", token),
    st.builds(lambda t: f"sk-ant-api03-{t}", token),
    st.builds(lambda t: "AKIA" + t.upper()[:16].ljust(16, "Q"), token),
    st.builds(lambda t: f"ghp_{t}{t}"[:40], token),
    st.builds(lambda t: f"Authorization: Bearer {t}1", token), st.builds(lambda t: f"api_key={t}", token),
)


def _planted(secret: str, before: str, after: str) -> str:
    return f"{before} {secret} {after}"


@settings(max_examples=200, deadline=None)
@given(emails, words, words)
def test_emails_are_masked(secret, before, after):
    out = redact(_planted(secret, before, after))
    assert secret not in out and "[email]" in out


@settings(max_examples=200, deadline=None)
@given(cards(), words, words)
def test_card_numbers_are_masked(secret, before, after):
    out = redact(_planted(secret, before, after))
    assert secret not in out and "[card]" in out


@settings(max_examples=200, deadline=None)
@given(phones(), words, words)
def test_phone_numbers_are_masked(secret, before, after):
    out = redact(_planted(secret, before, after))
    assert secret not in out and "[phone]" in out


@settings(max_examples=200, deadline=None)
@given(keys, words, words)
def test_api_keys_are_masked(secret, before, after):
    out = redact(_planted(secret, before, after))
    tail = secret.split()[-1]
    assert tail not in out and "[key]" in out


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + " .,;!?'\"()\n", max_size=200))
def test_prose_is_unchanged(text):
    # no digit, '@', ':' or '=': nothing can be an e-mail, number or key field unless it has a known key shape
    assert redact(text) == text or API_KEY.search(text)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.text(max_size=30) | st.integers() | st.none(),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4)))
def test_redact_all_is_idempotent_and_keeps_shape(obj):
    once = redact_all(obj)
    assert redact_all(once) == once
    assert type(once) is (list if isinstance(obj, tuple) else type(obj))


def test_ordinary_report_text_is_kept():
    for text in ("2026-10-01T00:00:00+00:00", "openai/gpt-4o-mini", "logs.jsonl:123", "req-000123",
                 "lower bound 0.957 >= target 0.95", "$1,234.56", "order #1000 [#12]", "162 != 168",
                 "similarity 0.35 < 0.85", "3.14159265", "the token verification failed", "Bearer of bad news",
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"):
        assert redact(text) == text, text
