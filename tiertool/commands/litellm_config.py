"""The LiteLLM proxy config `recommend --litellm-config` writes, proven by loading it into a real proxy.

Why each part is there:
- `model_name` is the model (group) name the log's clients already call (`model_group` in LiteLLM spend logs),
  so existing clients are routed without a change; `--model-name` overrides it.
- A moved task's deployment is tagged with the tag its clients already send (`feature:x` routes on
  `feature:x`). A task keyed by something LiteLLM cannot route on (metadata.task, a trace name, an inferred
  group) gets a `task:<name>` tag that clients must start sending; its saving is reported as "needs client
  tags", never silently promised.
- Every group with a moved task falls back to a second group on the reference (`router_settings.fallbacks`),
  so a task whose cheap deployment is down is still served, as it was before tiering.
- `--merge EXISTING.yaml` keeps the user's other models and settings; only the groups written here are replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..decide.recommendation import Recommendation
from ..errors import InputError
from ..pricing.prices import same_model

if TYPE_CHECKING:
    from ..gate import Gate

FALLBACK_SUFFIX = "-reference"
GATE_MODULE, GATE_GROUP = "tiertool_gate", "-gate"  # the hook module beside the config; the gate's group suffix
CLIENT_CHANGE = ('send the tag with each request: OpenAI SDK `extra_body={{"metadata": {{"tags": ["{tag}"]}}}}`, '
                 'or the header `x-litellm-tags: {tag}`')


@dataclass(frozen=True)
class Route:
    """How one moved task reaches its tier through the proxy."""

    task: str
    tier: str
    group: str  # the model group its clients call
    tag: str  # what its deployment is tagged with
    clients_send_it: bool  # the log shows the task's clients already sending `tag`
    saved_usd: float  # the task's saving over the log's period

    @property
    def client_change(self) -> str:
        return "" if self.clients_send_it else CLIENT_CHANGE.format(tag=self.tag)


def routes(rec: Recommendation, model_name: str | None = None) -> list[Route]:
    """One route per task moved to a cheaper tier, with the group and tag its clients reach it by."""
    ref = rec.config.reference
    saved = {t.task: t.current_usd - t.projected_usd for t in rec.savings.by_task}
    out = []
    for d in rec.decisions:
        if d.tier == ref.name:
            continue
        clients = rec.clients.get(d.task)
        called = _most_common(clients.called) if clients else None
        tag = _most_common(clients.tags) if clients else None
        out.append(Route(d.task, d.tier, model_name or called or _dominant_name(rec), tag or f"task:{d.task}",
                         tag is not None, saved.get(d.task, 0.0)))
    return out


def litellm_config(rec: Recommendation, model_name: str | None = None,
                   existing: dict[str, Any] | None = None, gate: Gate | None = None) -> dict[str, Any]:
    """The proxy config: per model group, tagged cheap deployments, a `default` one on the reference, and a
    fallback group on the reference; with a `gate`, one more group (`<name>-gate`) on the gate's cheaper model
    and the gate's pre-call hook; merged into `existing` (a parsed config) when given."""
    tiers = {t.name: t for t in rec.config.tiers}
    ref = rec.config.reference
    by_group: dict[str, dict[str, list[str]]] = {}
    for r in routes(rec, model_name):
        by_group.setdefault(r.group, {}).setdefault(r.tier, []).append(r.tag)
    if not by_group:  # nothing moves: the clients' group, all on the reference
        by_group[model_name or _dominant_name(rec)] = {}

    def deployment(group: str, tier: str, tags: list[str]) -> dict[str, Any]:
        t = tiers[tier]
        # the tier's own params (what the audit replayed) as the deployment's: LiteLLM sends them by default
        params: dict[str, Any] = {**t.params, "model": t.model}
        if t.api_base:
            params["api_base"] = t.api_base
        if t.api_key_env:
            params["api_key"] = f"os.environ/{t.api_key_env}"
        params["tags"] = sorted(set(tags))  # the fallback group's "default" too: tag filtering applies there
        return {"model_name": group, "litellm_params": params}

    model_list, fallbacks = [], []
    for group, by_tier in by_group.items():
        model_list += [deployment(group, tier, tags) for tier, tags in by_tier.items()]
        model_list.append(deployment(group, ref.name, ["default"]))
        if by_tier:
            model_list.append(deployment(group + FALLBACK_SUFFIX, ref.name, ["default"]))
            fallbacks.append({group: [group + FALLBACK_SUFFIX]})
    router: dict[str, Any] = {"enable_tag_filtering": True}
    if fallbacks:
        router["fallbacks"] = fallbacks
    callbacks = []
    if gate is not None:
        cheap = next((t for t in rec.config.tiers if same_model(t.model, gate.cheap)), None)
        if cheap is None:
            raise InputError(f"the gate routes to {gate.cheap}, which no tier of the config serves: pass the "
                             "gate built from this audit")
        routed = gate_group(rec, model_name)
        backup = routed.removesuffix(GATE_GROUP) + FALLBACK_SUFFIX
        model_list.append(deployment(routed, cheap.name, ["default"]))
        if not any(m["model_name"] == backup for m in model_list):
            model_list.append(deployment(backup, ref.name, ["default"]))
        router.setdefault("fallbacks", []).append({routed: [backup]})  # a gated request too is never lost
        callbacks.append(f"{GATE_MODULE}.gate")
    if existing is None:
        return {"model_list": model_list, "router_settings": router,
                **({"litellm_settings": {"callbacks": callbacks}} if callbacks else {})}
    return _merge(existing, model_list, router, callbacks)


def gate_group(rec: Recommendation, model_name: str | None = None) -> str:
    """The group the gate's hook sends a routed request to: the clients' group + `-gate`."""
    return (model_name or _dominant_name(rec)) + GATE_GROUP


def header(rec: Recommendation, model_name: str | None = None, merged: str | None = None) -> str:
    """The config's header comment: how to start the proxy, what it routes, and what clients must change."""
    lines = ["LiteLLM proxy config written by `tiertool recommend`.",
             "Start it: LITELLM_MASTER_KEY=sk-<a secret of yours> litellm --config THIS_FILE",
             "(LiteLLM 1.110 refuses to start without a master key; clients send it as their API key.)",
             f"Merged into {merged}: its other models and settings are kept." if merged else
             "To keep your proxy's other models and settings: tiertool recommend --merge YOUR_CONFIG.yaml",
             "Requests with a task's tag go to its tier; untagged or unknown tags go to the `default` deployment "
             "(the reference); a failing cheap deployment falls back to the `*-reference` group."]
    for r in routes(rec, model_name):
        how = (f"clients already send tag {r.tag!r}" if r.clients_send_it
               else f"NEEDS CLIENT TAGS: {r.client_change}")
        lines.append(f"task {r.task!r} -> tier {r.tier} on model {r.group!r}: {how}")
    tiers = {t.name: t for t in rec.config.tiers}
    for name in sorted({r.tier for r in routes(rec, model_name)} | {rec.config.reference.name}):
        if tiers[name].params:
            sent = ", ".join(f"{k}={v!r}" for k, v in sorted(tiers[name].params.items()))
            lines.append(f"tier {name} sends {sent} as its deployment's params, as the audit replayed it; "
                         "LiteLLM sends a client's own value instead where the client sets one of these")
    return "".join(f"# {line}\n" for line in lines)


def read_existing(path: Path) -> dict[str, Any]:
    """A user's proxy config to merge into, checked to be a LiteLLM config."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"{path}: cannot read the LiteLLM config to merge into: {e}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("model_list", []), list):
        raise InputError(f"{path}: expected a LiteLLM proxy config (a mapping with a `model_list` list)")
    return doc


@dataclass(frozen=True)
class ProxyFiles:
    """The proxy config (and the gate's hook module) ready to write: every input is read and checked before
    anything is written, so a bad `--merge` or `--gate` file leaves no half-written deployment behind."""

    files: tuple[tuple[Path, str], ...]
    routes: list[Route]

    def write(self) -> list[Route]:
        for path, text in self.files:
            path.write_text(text, encoding="utf-8")
        return self.routes


def proxy_files(rec: Recommendation, path: str | Path, model_name: str | None = None,
                merge: str | Path | None = None, gate_path: str | Path | None = None) -> ProxyFiles:
    """The config (merged into `merge` when given; with `gate_path`, also the hook module it loads,
    `tiertool_gate.py`, beside it), not yet written."""
    import yaml

    from ..gate import load

    path = Path(path)
    existing = read_existing(Path(merge)) if merge else None
    gate = load(gate_path) if gate_path is not None else None
    doc = litellm_config(rec, model_name, existing, gate)
    files = [(path, header(rec, model_name, str(merge) if merge else None)
              + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))]
    if gate_path is not None:
        routed = gate_group(rec, model_name)
        files.append((path.parent / f"{GATE_MODULE}.py",
                      hook_module(Path(gate_path), routed.removesuffix(GATE_GROUP), routed, rec.config.group_by)))
    return ProxyFiles(tuple(files), routes(rec, model_name))


def write_litellm_config(rec: Recommendation, path: str | Path, model_name: str | None = None,
                         merge: str | Path | None = None, gate_path: str | Path | None = None) -> list[Route]:
    """Write the proxy config (see `proxy_files`); return the routes it wrote, for the CLI to report."""
    return proxy_files(rec, path, model_name, merge, gate_path).write()


def hook_module(gate_path: Path, group: str, routed: str, group_by: str) -> str:
    """The module the proxy config loads: it only makes tiertool's hook from the gate file."""
    return ("# Written by `tiertool recommend`: the per-request gate as a LiteLLM pre-call hook.\n"
            "from tiertool.gate.litellm_hook import GateHook\n\n"
            f"gate = GateHook({str(gate_path.resolve())!r}, group={group!r}, routed={routed!r}, "
            f"group_by={group_by!r})\n")


def _merge(existing: dict[str, Any], model_list: list[dict[str, Any]], router: dict[str, Any],
           callbacks: list[str]) -> dict[str, Any]:
    """The user's config with our groups replaced, tag filtering on, and our fallbacks and callbacks added."""
    ours = {m["model_name"] for m in model_list}
    kept = [m for m in existing.get("model_list") or [] if not (isinstance(m, dict) and m.get("model_name") in ours)]
    settings = dict(existing.get("router_settings") or {})
    theirs = [f for f in settings.get("fallbacks") or [] if not (isinstance(f, dict) and set(f) & ours)]
    settings["enable_tag_filtering"] = True
    if router.get("fallbacks") or theirs:
        settings["fallbacks"] = theirs + list(router.get("fallbacks", []))
    out = {**existing, "model_list": kept + model_list, "router_settings": settings}
    if callbacks:
        litellm_settings = dict(existing.get("litellm_settings") or {})
        theirs_cb = [c for c in litellm_settings.get("callbacks") or [] if c not in callbacks]
        litellm_settings["callbacks"] = theirs_cb + callbacks
        out["litellm_settings"] = litellm_settings
    return out


def _most_common(counts: dict[str, int]) -> str | None:
    return max(sorted(counts), key=lambda k: counts[k]) if counts else None


def _default_name(rec: Recommendation) -> str:
    return rec.config.reference.model.rsplit("/", 1)[-1]


def _dominant_name(rec: Recommendation) -> str:
    """The model name most of the log's clients called, else the reference model's last segment."""
    total: dict[str, int] = {}
    for c in rec.clients.values():
        for name, n in c.called.items():
            total[name] = total.get(name, 0) + n
    return _most_common(total) or _default_name(rec)
