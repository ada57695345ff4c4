"""Inferred task types for requests nothing tags: cluster by prompt template, streaming.

A request's template is its system prompt plus the head and tail of its first user message, with numbers,
quoted strings, URLs and e-mail addresses masked. A request joins a group when, with the same system prompt,
its user message starts or ends like the group's first one (the fixed part of a template is usually a prefix or
a suffix), else when its whole template is close to the group's (rapidfuzz ratio >= threshold), else when its
system prompt alone is the group's; otherwise it starts a group. Memory is bounded: at most `max_groups`
groups and a bounded exact-template cache; nothing per request is kept.

While reading, requests carry a provisional group key; after reading, `renames()` gives each group its final,
human-readable name (from the words all its requests share) and sends groups too small to be a task type back
to "untagged". The same log gives the same names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process

from ..records import Request
from .common import content_text

MASKS = (
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"), "<email>"),
    (re.compile(r"\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”"), "<q>"),
    (re.compile(r"\d+(?:[.,:/-]\d+)*"), "#"),
    (re.compile(r"\s+"), " "),
)
WORD = re.compile(r"[a-z]+")
STOP = {"a", "an", "the", "you", "are", "is", "of", "to", "and", "in", "for", "on", "with", "your", "please",
        "this", "that", "following", "be", "as", "q", "url", "email", "i", "me", "my", "it"}
PREFIX = "auto:"
FIXED = 20  # characters of a shared prefix or suffix that make a template
HEAD, TAIL = 100, 40


def mask(text: str) -> str:
    for pattern, token in MASKS:
        text = pattern.sub(token, text)
    return text.strip()


def template(messages: tuple[dict, ...]) -> tuple[str, str, str]:
    """(system, head, tail): the masked system prompt and the masked head and tail of the first user message."""
    system = " ".join(content_text(m.get("content")) or "" for m in messages
                      if m.get("role") in ("system", "developer"))
    user = next((content_text(m.get("content")) or "" for m in messages if m.get("role") == "user"), "")
    user = mask(user[:2000] + (" " + user[-400:] if len(user) > 2400 else ""))
    return mask(system[:600])[:160], user[:HEAD], user[-TAIL:]


def _words(text: str, n: int = 4) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP][:n]


@dataclass
class Group:
    key: str  # provisional, while reading
    skeleton: str
    system: str
    prefix: str  # what all members' user messages start with (masked)
    suffix: str  # ... and end with
    requests: int = 0
    similarity_sum: float = 0.0
    similarity_min: float = 1.0
    name: str = ""  # final, after reading

    @property
    def similarity_mean(self) -> float:
        return self.similarity_sum / self.requests if self.requests else 1.0

    def add(self, score: float, head: str, tail: str) -> None:
        self.requests += 1
        self.similarity_sum += score
        self.similarity_min = min(self.similarity_min, score)
        self.prefix = self.prefix[:len(os.path.commonprefix([self.prefix, head]))]
        n = len(os.path.commonprefix([self.suffix[::-1], tail[::-1]]))
        self.suffix = self.suffix[len(self.suffix) - n:] if n else ""

    def label(self) -> str:
        words = (_words(self.system) or (_words(self.prefix) if len(self.prefix) >= 12 else [])
                 or (_words(self.suffix) if len(self.suffix) >= 12 else []) or _words(self.skeleton))
        return PREFIX + "-".join(words or ["prompt"])


class TaskTyper:
    """Give untyped requests with a prompt an inferred task (`task_source="inferred"`)."""

    def __init__(self, threshold: float = 80.0, max_groups: int = 200, cache_size: int = 100_000,
                 min_requests: int = 3) -> None:
        self.threshold, self.max_groups, self.cache_size = threshold, max_groups, cache_size
        self.min_requests = min_requests
        self.groups: list[Group] = []
        self._skeletons: list[str] = []
        self._by_fixed: dict[tuple[str, str, str], int] = {}  # (kind, system, prefix/suffix/"") -> group
        self._cache: dict[str, tuple[int, float]] = {}
        self.unmatched = 0  # untyped requests that matched no group once max_groups were made

    def assign(self, req: Request) -> Request:
        if req.task_source != "none" or not req.messages:
            return req
        system, head, tail = template(req.messages)
        if not (system or head):
            return req
        skel = f"{system} || {head} … {tail}"
        hit = self._cache.get(skel)
        if hit is None:
            hit = self._match(system, head, tail, skel)
            if hit is None:
                self.unmatched += 1
                return req
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[skel] = hit
        g = self.groups[hit[0]]
        g.add(hit[1], head, tail)
        return replace(req, task=g.key, task_source="inferred")

    def _match(self, system: str, head: str, tail: str, skel: str) -> tuple[int, float] | None:
        fixed = self._by_fixed
        idx = (fixed.get(("head", system, head[:FIXED])) if len(head) >= FIXED else None)
        if idx is None and len(tail) >= FIXED:
            idx = fixed.get(("tail", system, tail[-FIXED:]))
        if idx is not None:
            return idx, fuzz.ratio(skel, self._skeletons[idx]) / 100.0
        if self._skeletons:
            best = process.extractOne(skel, self._skeletons, scorer=fuzz.ratio, score_cutoff=self.threshold)
            if best is not None:
                return best[2], best[1] / 100.0
        idx = fixed.get(("system", system, "")) if len(system) >= FIXED else None
        if idx is not None:
            return idx, fuzz.ratio(skel, self._skeletons[idx]) / 100.0
        if len(self.groups) >= self.max_groups:
            return None
        idx = len(self.groups)
        self.groups.append(Group(f"{PREFIX}#{idx}", skel, system, head, tail))
        self._skeletons.append(skel)
        fixed.setdefault(("head", system, head[:FIXED]), idx)
        fixed.setdefault(("tail", system, tail[-FIXED:]), idx)
        fixed.setdefault(("system", system, ""), idx)
        return idx, 1.0

    def renames(self) -> dict[str, str]:
        """Provisional key -> final name, after reading: readable names for groups that are task types,
        "untagged" for groups too small to be one (fewer than `min_requests`: free-form prompts)."""
        out, taken = {}, set()
        for g in self.groups:
            if g.requests < self.min_requests:
                out[g.key] = "untagged"
                continue
            base = g.label()
            name, i = base, 2
            while name in taken:
                name, i = f"{base}-{i}", i + 1
            taken.add(name)
            g.name = out[g.key] = name
        return out

    def kept(self) -> list[Group]:
        return [g for g in self.groups if g.name]
