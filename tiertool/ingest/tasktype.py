"""Inferred task types for requests nothing tags: cluster by prompt template, streaming.

A request's skeleton is its system prompt plus the head and tail of its first user message, with numbers,
quoted strings, URLs and e-mail addresses masked. Requests whose skeletons are close (rapidfuzz ratio at or
above the threshold) to a group's first skeleton join that group. Memory is bounded: at most `max_groups`
skeletons and a bounded exact-skeleton cache; nothing per request is kept. A group is named from the words of
its first skeleton, so the same log gives the same names."""

from __future__ import annotations

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
        "this", "that", "following", "be", "as", "q", "url", "email"}
PREFIX = "auto:"


def mask(text: str) -> str:
    for pattern, token in MASKS:
        text = pattern.sub(token, text)
    return text.strip()


def skeleton(messages: tuple[dict, ...]) -> str:
    """The fixed part of a prompt: system prompt + head and tail of the first user message, masked."""
    system = " ".join(content_text(m.get("content")) or "" for m in messages if m.get("role") in ("system",
                                                                                                 "developer"))
    user = next((content_text(m.get("content")) or "" for m in messages if m.get("role") == "user"), "")
    user = mask(user[:2000] + (" " + user[-400:] if len(user) > 2400 else ""))
    if len(user) > 140:
        user = user[:100] + " … " + user[-40:]
    system = mask(system[:600])[:160]
    return f"{system} || {user}" if system or user else ""


def group_name(skel: str, taken: set[str]) -> str:
    system, _, user = skel.partition(" || ")
    words = [w for w in WORD.findall((system or user).lower()) if w not in STOP][:4] or ["prompt"]
    base = PREFIX + "-".join(words)
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


@dataclass
class Group:
    name: str
    skeleton: str
    requests: int = 0
    similarity_sum: float = 0.0
    similarity_min: float = 1.0

    @property
    def similarity_mean(self) -> float:
        return self.similarity_sum / self.requests if self.requests else 1.0


class TaskTyper:
    """Give untyped requests with a prompt an inferred task (`task_source="inferred"`)."""

    def __init__(self, threshold: float = 80.0, max_groups: int = 200, cache_size: int = 100_000,
                 min_requests: int = 3) -> None:
        self.threshold, self.max_groups, self.cache_size = threshold, max_groups, cache_size
        self.min_requests = min_requests
        self.groups: list[Group] = []
        self._skeletons: list[str] = []
        self._cache: dict[str, tuple[int, float]] = {}
        self.unmatched = 0  # untyped requests that matched no group once max_groups were made

    def assign(self, req: Request) -> Request:
        if req.task_source != "none" or not req.messages:
            return req
        skel = skeleton(req.messages)
        if not skel:
            return req
        hit = self._cache.get(skel)
        if hit is None:
            hit = self._match(skel)
            if hit is None:
                self.unmatched += 1
                return req
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[skel] = hit
        idx, score = hit
        g = self.groups[idx]
        g.requests += 1
        g.similarity_sum += score
        g.similarity_min = min(g.similarity_min, score)
        return replace(req, task=g.name, task_source="inferred")

    def _match(self, skel: str) -> tuple[int, float] | None:
        if self._skeletons:
            best = process.extractOne(skel, self._skeletons, scorer=fuzz.ratio, score_cutoff=self.threshold)
            if best is not None:
                return best[2], best[1] / 100.0
        if len(self.groups) >= self.max_groups:
            return None
        self.groups.append(Group(group_name(skel, {g.name for g in self.groups}), skel))
        self._skeletons.append(skel)
        return len(self.groups) - 1, 1.0

    def dissolved(self) -> dict[str, str]:
        """Groups too small to be a task type (a template seen fewer than `min_requests` times is not a
        template: free-form prompts): their requests go back to untyped. Call after reading."""
        return {g.name: "untagged" for g in self.groups if g.requests < self.min_requests}

    def kept(self) -> list[Group]:
        return [g for g in self.groups if g.requests >= self.min_requests]
