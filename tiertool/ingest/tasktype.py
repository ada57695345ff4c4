"""Inferred task types for requests nothing tags: prompt templates learned from the whole log, in two passes.

A prompt is read as tokens: the system prompt, a user marker, then the first user message, with numbers, quoted
strings, URLs and e-mail addresses masked. Its *head* is the first `HEAD` tokens of the system prompt (with a
digest of the rest when it is longer) and of the user message; its *tail* is the last `TAIL` tokens of the user
message. The real start and end of a long prompt are both kept.

Pass 1 (`observe`) keeps a bottom-k sample: the `sample_size` distinct prompts with the smallest content hash,
each with how often it occurs; it is the same set whatever the order of the lines. `fit()` grows a prefix tree
over the sample's heads. A branch that `min_requests` sampled requests take is followed when no word is fixed
above it (a recurring start), or when nearly all of its parent's requests take it (`ALPHA`); below fixed words a
variant is followed when it holds a quarter of them (`SHARE`) or `split` sampled requests: so one MMLU subject's
header is a task type of its own, and a name in "Dear {name}," is not. A request's head anchor is the deepest
followed node that ends at a boundary (a newline, a colon, the end of the system prompt or of the prompt) after
a word. Within each head anchor the same is done from the end of the user message for the tail anchor, where a
variant must also hold `SHARE` of the head's requests. The template is the pair: two requests share a task type
only when their whole fixed head and whole fixed tail are the same, so a shared suffix never joins prompts that
start differently. Prompts with no fixed words are free-form: untyped, or grouped by topic when `semantic` is
on (semantic.py).

Pass 2 (`assign`) walks each request down the fitted trees, so its group depends only on the request and the
sample. Groups are named from their fixed words at fit time; `renames()` sends groups of fewer than
`min_requests` requests back to "untagged" once the stream is read.

Memory: the sample (at most `sample_size` prompts, each kept as at most 2 x SPAN characters of its user message,
a sketch and the tokens of its system prompt's head), and trees and groups no larger than the sample; nothing
per request of pass 2. A group whose requests all fall outside a sample of a log with more
distinct prompts than `sample_size` is not found: its requests stay untyped, and are counted as such.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz

from ..records import Request
from .common import content_text

# One pass finds the tokens; URLs, e-mail addresses, quoted strings and numbers are then masked (see _mask).
TOKEN = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+|\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|\d+(?:[.,:/-]\d+)*"
                   r"|\w+|\n+|[^\w\s]")
KEEP_OUT = set("0123456789\n")  # one-character tokens that _mask changes
USER, END = "\x00user", "\x00end"  # where the user message starts; the prompt ends within the head window
BOUNDARY = {"\n", ":", USER, END}
WORD = re.compile(r"[^\W\d_]+")
LONG_WORD = re.compile(r"^[^\x00]*[^\W\d_]{2}")
STOP = {"a", "an", "the", "you", "are", "is", "of", "to", "and", "in", "for", "on", "with", "your", "please",
        "this", "that", "following", "be", "as", "q", "url", "email", "i", "me", "my", "it"}
PREFIX = "auto:"
HEAD, TAIL = 128, 64  # tokens kept from the start of the system prompt and of the user message, and from its end
SPAN, QUICK = 5 * HEAD, 160  # characters read at each end of a long user message; pass 2 tries QUICK first
ALPHA = 0.9  # a branch carrying this share of its parent's requests is part of the template
SHARE = 0.25  # a variant holding this share of its parent's requests (or `split` of them) is a template of its own
SYSTEMS = 256  # system prompts whose tokens pass 2 keeps at once


def tokens(text: str) -> list[str]:
    return [t if t.isalpha() or (len(t) == 1 and t not in KEEP_OUT) else _mask(t) for t in TOKEN.findall(text)]


def _mask(t: str) -> str:
    c = t[0]
    if c.isdigit():
        return "#"
    if c == "\n":
        return c
    if c in "\"“" and len(t) > 1:
        return "<q>"
    if len(t) > 5 and ("@" in t or t.startswith(("http://", "https://"))):
        return "<url>" if "://" in t else "<email>"
    return t


def _texts(messages: tuple[dict, ...]) -> tuple[str, str]:
    system = "\n".join(content_text(m.get("content")) or "" for m in messages
                       if m.get("role") in ("system", "developer"))
    user = next((content_text(m.get("content")) or "" for m in messages if m.get("role") == "user"), "")
    return system, user


def _system_head(system: str) -> tuple[str, ...]:
    """The system part of a head: its first HEAD tokens, then (if longer) a digest standing for the whole."""
    toks = tokens(system)
    if len(toks) <= HEAD:
        return tuple(map(sys.intern, toks))
    digest = hashlib.blake2b(" ".join(toks).encode(), digest_size=6).hexdigest()
    return (*map(sys.intern, toks[:HEAD]), "\x00" + digest)


def _ends(user: str, span: int) -> tuple[str, str, bool]:
    """The first and last `span` characters of a user message longer than twice that (cut), else all of it."""
    return (user[:span], user[-span:], True) if len(user) > 2 * span else (user, user, False)


@dataclass(frozen=True)
class Prompt:
    """What template inference reads of a request: head and tail tokens (the tail reversed)."""

    head: tuple[str, ...]
    tail: tuple[str, ...]
    cut: bool  # read from the ends of a longer message: the last token of each may be partial

    @classmethod
    def of(cls, system: tuple[str, ...], first: str, last: str, cut: bool) -> Prompt:
        start = tokens(first)
        end = start if first is last else tokens(last)
        head = (*system, USER, *start[:HEAD]) + (() if cut or len(start) > HEAD else (END,))
        tail = tuple(end[::-1][:TAIL]) + (() if cut or len(end) > TAIL else (USER,))
        return cls(head, tail, cut)


def sketch(system: str, user: str) -> str:
    """The text tightness compares: the start of the prompt and the end of the user message."""
    return f"{system[:200]}\n{user[:400]} … {user[-200:]}" if len(user) > 600 else f"{system[:200]}\n{user}"


@dataclass
class Node:
    """A followed branch of a prefix (or suffix) tree. An anchor may end at a `boundary` node: a boundary token
    after a word of two letters or more (a line of masks and option letters is not a template of its own)."""

    token: str = ""
    parent: Node | None = None
    boundary: bool = True
    worded: bool = False  # a word since the last boundary
    fixed: bool = False  # a word on the path (or, for a tail tree, in the head anchor)
    variant: bool = False  # followed as a recurring variant below fixed words, not because nearly all share it
    children: dict[str, Node] = field(default_factory=dict)

    def child(self, token: str, variant: bool) -> Node:
        has_word = bool(LONG_WORD.search(token))
        worded = (self.worded and not self.boundary) or has_word
        node = self.children[token] = Node(token, self, token in BOUNDARY and worded, worded,
                                           self.fixed or has_word, variant and self.fixed)
        return node

    def path(self) -> list[str]:
        out, node = [], self
        while node.parent is not None:
            out.append(node.token)
            node = node.parent
        return out[::-1]

    def anchor(self, seq: tuple[str, ...]) -> tuple[Node, int]:
        """The deepest boundary node on `seq`'s path, and how many tokens of `seq` the path followed.

        A whole message that recurs below fixed words (a ticket text sent often under one system prompt) is
        input, not a template: its anchor is the last boundary before the variant it follows."""
        node = best = self
        fallback: Node | None = None
        for i, tok in enumerate(seq):
            nxt = node.children.get(tok)
            if nxt is None:
                return best, i
            node = nxt
            if node.variant:
                fallback = best
            if node.boundary:
                best = node
        whole = bool(seq) and seq[-1] in (END, USER)
        return (fallback if whole and fallback is not None else best), len(seq)


def _words(toks: Iterable[str]) -> list[str]:
    return [w for t in toks if t[0] != "\x00" for w in WORD.findall(t.lower()) if w not in STOP]


@dataclass
class Group:
    """An inferred task type: a template (head and tail anchors) or a topic cluster of free-form prompts."""

    key: str  # the name its requests carry (final unless the group proves too small)
    how: str  # "template" | "cluster"
    fixed: str  # the template's fixed text ("head … tail"), or the cluster's top terms
    representative: str = ""  # sketch of the sampled member with the smallest hash: tightness compares to it
    requests: int = 0
    similarity_sum: float = 0.0
    similarity_min: float = 1.0
    name: str = ""  # final, after reading: the key, or "" when the group was too small

    @property
    def similarity_mean(self) -> float:
        return self.similarity_sum / self.requests if self.requests else 1.0

    def add(self, similarity: float, n: int = 1) -> None:
        self.requests += n
        self.similarity_sum += similarity * n
        self.similarity_min = min(self.similarity_min, similarity)


class TaskTyper:
    """Give untyped requests with a prompt an inferred task (`task_source` "template" or "cluster").

    The reader calls `observe(req)` for every request of a first pass, `fit()` once, then `assign(req)` for
    every request of the pass that aggregates, and `renames()` after it."""

    def __init__(self, split: int = 20, min_requests: int = 3, sample_size: int = 10_000,
                 semantic: bool = False) -> None:
        self.split, self.min_requests, self.sample_size, self.semantic = split, min_requests, sample_size, semantic
        self._heap: list[int] = []  # max-heap (negated) of the sampled content hashes
        self._sample: dict[int, list[Any]] = {}  # hash -> what _keep keeps
        self._head: Node | None = None
        self._tails: dict[int, Node] = {}  # id(head anchor) -> its tail tree
        self._templates: dict[tuple[int, int], Group] = {}  # (id(head anchor), id(tail anchor)) -> group
        self._systems: dict[str, tuple[str, ...]] = {}
        self._topics: Any = None  # semantic.Topics, when semantic grouping found topics
        self._clusters: list[Group] = []
        self.groups: list[Group] = []

    # --- pass 1 -------------------------------------------------------------------------------------------

    @staticmethod
    def prompt(req: Request) -> tuple[str, str] | None:
        """(system, user) text of a request whose task type is to be inferred, else None (typed by the log, or
        nothing to read)."""
        if req.task_source != "none" or not req.messages:
            return None
        system, user = _texts(req.messages)
        return (system, user) if system or user else None

    def observe(self, req: Request) -> int:
        """Sample a request of the first pass; returns its prompt's length in characters, 0 when its task type
        is not inferred."""
        texts = self.prompt(req)
        return 0 if texts is None else self.observe_text(*texts)

    def observe_text(self, system: str, user: str, n: int = 1) -> int:
        """`observe` of `n` requests with this (system, user) text (an engine counts equal prompts in SQL)."""
        h = int.from_bytes(hashlib.blake2b(f"{system}\x00{user}".encode(), digest_size=8).digest(), "big")
        hit = self._sample.get(h)
        if hit is not None:
            hit[0] += n
        elif len(self._heap) < self.sample_size:
            heapq.heappush(self._heap, -h)
            self._sample[h] = self._keep(system, user, n)
        elif h < -self._heap[0]:
            del self._sample[-heapq.heappushpop(self._heap, -h)]
            self._sample[h] = self._keep(system, user, n)
        return len(system) + len(user) or 1

    def _keep(self, system: str, user: str, n: int) -> list[Any]:
        """What fit needs of a sampled prompt, bounded: [occurrences, system head, user ends, sketch, text]."""
        return [n, self._system(system), _ends(user, SPAN), sketch(system, user), (user or system)[:SPAN]]

    def _system(self, system: str) -> tuple[str, ...]:
        head = self._systems.get(system)
        if head is None:
            if len(self._systems) >= SYSTEMS:
                self._systems.clear()
            head = self._systems[system] = _system_head(system)
        return head

    def fit(self) -> None:
        """Learn the templates (and topics) from the sample; `assign` needs it, even after an empty pass 1."""
        items = [(Prompt.of(system, *ends), n, rep, text)
                 for _, (n, system, ends, rep, text) in sorted(self._sample.items())]
        self._sample, self._heap = {}, []
        self._head = self._grow([(p.head, n) for p, n, _, _ in items], 0.0, 0)
        by_head: dict[int, tuple[Node, list[tuple[Prompt, int, str, str]]]] = {}
        for item in items:
            anchor = self._head.anchor(item[0].head)[0]
            by_head.setdefault(id(anchor), (anchor, []))[1].append(item)
        free: list[tuple[str, int]] = []
        found: dict[tuple[int, int], tuple[Node, Node, str]] = {}
        for hid, (head, members) in by_head.items():
            worded = bool(_words(head.path()))
            tree = self._tails[hid] = self._grow([(p.tail, n) for p, n, _, _ in members], SHARE if worded else 0.0,
                                                 sum(n for _, n, _, _ in members), worded)
            for p, n, rep, text in members:
                tail = tree.anchor(p.tail)[0]
                if not _words(head.path() + tail.path()):
                    free.append((text, n))
                elif (hid, id(tail)) not in found:  # members come in hash order: the first one represents
                    found[(hid, id(tail))] = (head, tail, rep)
        heads = Counter(hid for hid, _ in found)
        named = ((key, _name(head, tail, heads[key[0]] > 1), head.path(), tail.path()[::-1], rep)
                 for key, (head, tail, rep) in found.items())
        for key, name, head_path, tail_path, rep in sorted(named, key=lambda t: t[1:4]):
            self._templates[key] = Group(name, "template", f"{_text(head_path)} … {_text(tail_path)}".strip(), rep)
        if self.semantic and free:
            from .semantic import Topics

            self._topics = Topics([t for t, _ in free], [n for _, n in free], self.min_requests)
            self._clusters = [Group(PREFIX + "topic-" + "-".join(c.terms[:3]), "cluster",
                                    "topic: " + ", ".join(c.terms)) for c in self._topics.clusters]
        self.groups = [*self._templates.values(), *self._clusters]
        seen: dict[str, int] = {}
        for g in self.groups:  # the same name twice: -2, -3 ..., in the order above, which the sample alone sets
            seen[g.key] = seen.get(g.key, 0) + 1
            if seen[g.key] > 1:
                g.key = f"{g.key}-{seen[g.key]}"

    def _grow(self, items: list[tuple[tuple[str, ...], int]], share: float, total: int, fixed: bool = False
              ) -> Node:
        """The tree of followed branches: a branch with `min_requests` is followed when no word is fixed above it
        (a recurring start), when it holds ALPHA of its parent's requests, or else when it holds SHARE of them or
        `split` requests (and `share` of `total`): a variant big enough to be a template of its own."""
        root = Node(fixed=fixed)
        stack = [(root, items, 0)]
        while stack:
            node, members, depth = stack.pop()
            weight = sum(n for _, n in members)
            by: dict[str, list[tuple[tuple[str, ...], int]]] = {}
            for seq, n in members:
                if len(seq) > depth:
                    by.setdefault(seq[depth], []).append((seq, n))
            for tok, sub in by.items():
                w = sum(n for _, n in sub)
                if w < self.min_requests:
                    continue
                if w >= ALPHA * weight or not node.fixed or (w >= min(self.split, SHARE * weight)
                                                             and w >= share * total):
                    stack.append((node.child(tok, w < ALPHA * weight), sub, depth + 1))
        return root

    # --- pass 2 -------------------------------------------------------------------------------------------

    def assign(self, req: Request) -> Request:
        """The request in its inferred task type (`task_source` "template" or "cluster"), or as it was."""
        texts = self.prompt(req)
        if texts is None:
            return req
        g = self.assign_text(*texts)
        return req if g is None else replace(req, task=g.key, task_source=g.how, template=g.fixed)

    def assign_text(self, system: str, user: str, n: int = 1) -> Group | None:
        """The group of `n` requests with this (system, user) text (counted in it), or None: untyped."""
        if self._head is None:
            raise RuntimeError("TaskTyper.assign before fit(): observe every request in a first pass, then fit()")
        g = self._template(system, user)
        if g is not None:
            g.add(fuzz.ratio(sketch(system, user), g.representative) / 100.0, n)
            return g
        if self._topics is not None:
            hit = self._topics.assign(user or system)
            if hit is not None:
                g = self._clusters[hit[0]]
                g.add(hit[1], n)
                return g
        return None

    def _template(self, system: str, user: str) -> Group | None:
        """The request's template group: the same walk as fit's, reading QUICK characters at each end first and
        the full SPAN only when the walk reaches the end of what was read."""
        assert self._head is not None
        sys_head = self._system(system)
        p = Prompt.of(sys_head, *_ends(user, QUICK))
        head, used = self._head.anchor(p.head)
        if p.cut and used >= len(p.head) - 1:
            p = Prompt.of(sys_head, *_ends(user, SPAN))
            head = self._head.anchor(p.head)[0]
        tree = self._tails.get(id(head))
        if tree is None:
            return None
        tail, used = tree.anchor(p.tail)
        if p.cut and used >= len(p.tail) - 1:
            tail = tree.anchor(Prompt.of(sys_head, *_ends(user, SPAN)).tail)[0]
        return self._templates.get((id(head), id(tail)))

    def renames(self) -> dict[str, str]:
        """Groups of fewer than `min_requests` requests are no task type: their requests go back to untagged."""
        out = {}
        for g in self.groups:
            g.name = g.key if g.requests >= self.min_requests else ""
            if not g.name:
                out[g.key] = "untagged"
        return out

    def kept(self) -> list[Group]:
        return [g for g in self.groups if g.name]


def templates_within(requests: Sequence[Request], min_requests: int) -> dict[str, str]:
    """The prompt templates inside a set of requests that the log typed already (a tagged task's sample), found
    as for untyped ones, a variant counting from `min_requests` requests: request id -> the template's fixed
    text, for the requests in a template that big."""
    typer = TaskTyper(split=min_requests, min_requests=min_requests)
    plain = [replace(r, task_source="none") for r in requests]
    for r in plain:
        typer.observe(r)
    typer.fit()
    typed = [typer.assign(r) for r in plain]
    small = typer.renames()
    return {r.id: r.template for r in typed if r.template is not None and r.task_source == "template"
            and r.task not in small}


def _name(head: Node, tail: Node, shared_head: bool) -> str:
    """From the fixed words: the first two shared with sibling templates, then those that set this one apart;
    then the tail's, when the head has fewer than two words or other templates share it."""
    path, node, depth = head.path(), head, 0
    while node.parent is not None:  # up to the root: the shallowest branch below some fixed words
        node = node.parent
        if len(node.children) > 1 and _words(path[:len(node.path())]):
            depth = len(node.path())
    common, own = _words(path[:depth]), _words(path[depth:])
    words = common[:2] + own[:4] if common else own[:4]
    if shared_head or len(words) < 2:
        words += [w for w in _words(tail.path()[::-1]) if w not in words][:max(4 - len(words), 2)]
    return PREFIX + "-".join(words or ["prompt"])


def _text(toks: list[str]) -> str:
    """Tokens back into text: one space between words, none before closing punctuation or after an opening one."""
    text = re.sub(r"\s+", " ", " ".join(t for t in toks if t[0] != "\x00")).strip()
    return re.sub(r"([(\[]) | (?=[.,:;?!)\]])", r"\1", text)
