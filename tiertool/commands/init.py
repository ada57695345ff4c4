"""`tiertool init LOG`: a commented starter tiertool.yaml written from the log itself, so a first audit of a
user's own traffic needs no hand-written config.

The models seen become the tiers, cheapest first by litellm's price map on the log's own token mix, with the
most used of the dearer ones as the reference; every task type is listed with its traffic and the scorer `auto`
would pick from its logged answers (and why). What only the user knows (endpoints, keys, a price the map
lacks) is marked TODO.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..config import Config, Tier
from ..config.scorers import AutoSpec
from ..decide.family import family_for
from ..ingest import Traffic, scan
from ..pricing.prices import Price, lookup, price_map, same_model
from ..scorers.auto import choose
from .audit import require_records

SAMPLE = 40  # logged answers per task that `auto`'s choice is previewed on
MAX_TIERS = 4
LISTED_TASKS = 40
NAMES = {2: ("small", "large"), 3: ("small", "medium", "large"), 4: ("tiny", "small", "medium", "large")}
NO_MODEL = ("", "unknown")  # what readers log when a failed record names no model
CHEAPER = 0.5  # a cheaper tier picked from the price map costs at most half the reference's per-token price


@dataclass(frozen=True)
class Model:
    name: str  # the shortest of the names logged for it (an undated alias matches its dated snapshots)
    requests: int
    price: Price | None
    cost: float | None = None  # the log's token mix at this model's prices: what orders the tiers


@dataclass(frozen=True)
class Starter:
    """A starter config: its text and what it chose."""

    text: str
    tiers: tuple[str, ...]  # tier names, cheapest first
    tasks: int

    @staticmethod
    def next_commands(config: str | Path, logs: Sequence[str | Path], fmt: str | None = None,
                      group_by: str | None = None, mapping: str | None = None) -> list[tuple[str, str]]:
        """The three commands that follow, with the options that read these logs."""
        args = " ".join(map(str, logs)) + (f" --format {fmt}" if fmt else "") + (
            f" --group-by {group_by}" if group_by else "") + (f" --map {mapping}" if mapping else "")
        if str(config) != "tiertool.yaml":
            args += f" --config {config}"
        return [(f"tiertool audit {args} --dry-run", "the plan: calls, tokens and USD per tier; nothing is sent"),
                (f"tiertool audit {args}", "replay the sample on the cheaper tiers and score it (needs the keys)"),
                ("tiertool recommend && tiertool report", "the tier per task type, its evidence and the savings")]


def _models(traffic: Traffic) -> list[Model]:
    """The log's models, dated snapshots merged into their undated name, priced on the log's token mix."""
    requests: dict[str, int] = {}
    for key, u in traffic.volume.items():
        if key.model not in NO_MODEL:
            requests[key.model] = requests.get(key.model, 0) + u.requests
    groups: list[list[str]] = []
    for name in sorted(requests, key=len):
        group = next((g for g in groups if same_model(name, g[0])), None)
        if group is None:
            groups.append([name])
        else:
            group.append(name)
    tokens_in = sum(u.input_tokens for u in traffic.volume.values()) or 1000
    tokens_out = sum(u.output_tokens for u in traffic.volume.values()) or 250
    out = []
    for g in groups:
        price = next((p for p in map(lookup, g) if p is not None), None)
        out.append(Model(g[0], sum(requests[n] for n in g), price,
                         price.cost(tokens_in, tokens_out) if price else None))
    return sorted(out, key=lambda m: (m.cost is None, m.cost or 0.0, -m.requests, m.name))


def _cheaper(ref: Model) -> Model | None:
    """For a log with one priced model: the same provider's chat model with the closest name at a lower price."""
    from rapidfuzz import fuzz

    table = price_map()
    short = ref.name.rsplit("/", 1)[-1]
    entry = table.get(ref.name) or table.get(short) or {}
    provider = entry.get("litellm_provider")
    if ref.price is None or provider is None:
        return None
    today = date.today().isoformat()
    same = [(name, lookup(name)) for name, e in table.items()
            if isinstance(e, dict) and e.get("litellm_provider") == provider and e.get("mode") == "chat"
            and "/" not in name and ":" not in name and str(e.get("deprecation_date") or "9999") > today]
    priced = [(name, p) for name, p in same
              if p is not None and p.input + p.output <= CHEAPER * (ref.price.input + ref.price.output)]
    if not priced:
        return None
    name, price = max(priced, key=lambda np: (fuzz.ratio(np[0], short), np[1].input + np[1].output))
    prefix = ref.name[: -len(short)]
    return Model(prefix + name, 0, price)


def _tiers(models: list[Model]) -> tuple[list[Model], list[Model], list[str]]:
    """(tiers cheapest first with the reference last, models left out, TODO notes)."""
    priced = [m for m in models if m.price is not None]
    unpriced = [m for m in models if m.price is None]
    notes = []
    if len(priced) >= 2:
        ref = max(priced[1:], key=lambda m: (m.requests, m.cost or 0.0))
        below = [m for m in priced if (m.cost or 0.0) < (ref.cost or 0.0) and m is not ref]
        chosen = sorted(sorted(below, key=lambda m: -m.requests)[: MAX_TIERS - 1], key=lambda m: m.cost or 0.0)
        tiers = [*chosen, ref] if chosen else [priced[0], ref]
    elif len(priced) == 1:
        ref = priced[0]
        candidate = _cheaper(ref)
        if candidate is None and unpriced:
            candidate = unpriced[0]
        if candidate is None:
            candidate = Model("TODO-a-cheaper-model", 0, None)
        notes.append(f"TODO: the log has one model ({ref.name}); {candidate.name} is a cheaper model of the same "
                     "provider picked from litellm's price map, not from your log: put the one you would use")
        tiers = [candidate, ref]
    else:
        by_use = sorted(unpriced, key=lambda m: -m.requests) or [Model("TODO-the-reference-model", 0, None)]
        if len(by_use) == 1:
            by_use.append(Model("TODO-a-cheaper-model", 0, None))
        tiers = [*reversed(by_use[1:MAX_TIERS]), by_use[0]]
        notes.append("TODO: no model of the log has a price in litellm's map (or none is named), so the order is "
                     "a guess (the most used as the reference): reorder cheapest first and add `prices:`")
    left = [m for m in models if m not in tiers]
    return tiers, left, notes


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _quote(name: str) -> str:
    """A YAML key or value that survives any task or model name (a JSON string is a YAML scalar)."""
    return json.dumps(name, ensure_ascii=False)


def starter_config(paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = None,
                   mapping: str | None = None) -> Starter:
    """Read the logs once (ingest's one pass, as the audit will) and write the starter config's text."""
    traffic = scan(paths, fmt, group_by or "auto", mapping, sample=SAMPLE, seed=0, sample_if="any")
    require_records(traffic)
    tiers, left, notes = _tiers(_models(traffic))
    names = NAMES[len(tiers)]
    config = Config(tiers=tuple(Tier(name=n, model=m.name) for n, m in zip(names, tiers, strict=True)))
    replayable = {task: t.replayable for task, t in traffic.tasks.items()}
    fam = family_for(replayable, config)
    total = traffic.stats.records
    files = ", ".join(str(p) for p in traffic.paths)
    out = [f"# Starter config written by `tiertool init` from {files}: {total:,} requests, "
           f"{len(traffic.tasks)} task types.",
           "# Check every line marked TODO, then run `tiertool audit --dry-run` to see what the audit would send.",
           "", "tiers:                          # cheapest first; the last one is the reference"]
    for name, m in zip(names, tiers, strict=True):
        seen = f"{_n(m.requests, 'request')} in the log" if m.requests else "not in the log"
        price = (f"${m.price.input * 1e6:g} / ${m.price.output * 1e6:g} per million input / output tokens"
                 if m.price else "no price in litellm's map: TODO add it under prices:")
        out.append(f"  - name: {name}".ljust(32) + f"# {m.name}: {seen}; {price}")
        out.append(f"    model: {_quote(m.name)}")
        out.append("    # TODO endpoint and key: `api_base: URL` of your provider, proxy or deployment, and")
        out.append("    # `api_key_env: VARIABLE` holding its key (default: litellm's variable for the provider)")
    out += [f"# {n}" for n in notes]
    for m in left:
        why = "no price in litellm's map" if m.price is None else "not chosen as a tier (dearer than the reference, "\
              "or a fifth model)"
        out.append(f"# also in the log: {m.name} ({_n(m.requests, 'request')}): {why}")
    out += ["", "quality: {target: 0.95, confidence: 0.95}   # TODO the bar: a tier must be proven to pass this share "
            "of the reference's answers", "", "tasks:                          # the scorer per task type; without "
            "an entry, `auto` picks one from the reference answers"]
    for task, t in list(traffic.tasks.items())[:LISTED_TASKS]:
        refs = [r.output for r in traffic.sample(task) if r.output and same_model(r.model, config.reference.model)]
        refs = refs or [r.output for r in traffic.sample(task) if r.output]
        pick = choose(AutoSpec(scorer="auto"), [x for x in refs if x]) if refs else None
        out.append(f"  # {task}: {_n(t.requests, 'request')} ({t.requests / total:.1%}), {t.replayable:,} "
                   f"replayable, typed by {t.typed_by}")
        if pick:
            out.append(f"  #   `auto` on {len(refs)} logged answers: {pick[1].removeprefix('auto: ')}")
        else:
            out.append("  #   no logged answer: `auto` will choose once it sees the reference answers")
        if task not in fam.tested:
            out.append(f"  #   too little replayable traffic to prove a cheaper tier (a proof needs {fam.needed} "
                       "all-passing samples): it will stay on the reference")
        out.append(f"  {_quote(task)}: {{scorer: auto}}")
    if len(traffic.tasks) > LISTED_TASKS:
        out.append(f"  # ... and {len(traffic.tasks) - LISTED_TASKS} more task types (`tiertool inspect` lists "
                   "them); `default` covers them")
    out += ["  default: {scorer: auto}", "",
            f"group_by: {_quote(group_by or 'auto')}               # or a dotted path into the record, e.g. "
            "metadata.task",
            "sample: {round: 20, max_per_task: 400}   # sequential rounds; or {sequential: false, per_task: 100}",
            "# prices:                      # USD per million tokens, for a model litellm's map lacks or you pay "
            "less for", "#   my-model: {input: 0.30, output: 1.20}", ""]
    return Starter("\n".join(out), names, len(traffic.tasks))
