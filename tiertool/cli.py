"""Command line: parse options, call the public API (tiertool/__init__.py), print. Domain errors become one
line + exit code here, and only here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from . import __version__
from .defaults import AUDIT_DIR, CONFIG_FILE, DRIFT_THRESHOLD, LOG_FORMATS, REPORT_FORMATS, TIERS_FILE
from .errors import InputError, TiertoolError
from .text import printable

T = TypeVar("T")

# Plain click help (not typer's rich panels): it wraps at the terminal's width, so it fits 80 columns, and
# each option shows a named value (FILE, N, USD) instead of a Python type.
app = typer.Typer(
    help="Prove which LLM task types can move to a cheaper model, and what that saves.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

AuditDir = typer.Option(Path(AUDIT_DIR), "--audit", metavar="DIR", help="Audit folder written by `tiertool audit`.")
# Arguments are described in each command's first line: typer would print a Python type beside them.
LogsArg = typer.Argument(..., metavar="LOG", hidden=True)
ConfigOpt = typer.Option(None, "--config", "-c", metavar="FILE", help=f"Config file [default: ./{CONFIG_FILE}]")
FormatOpt = typer.Option(None, "--format", metavar="NAME", help="Read the logs as this format instead of "
                         f"detecting it: {', '.join(LOG_FORMATS)}.")
GroupByOpt = typer.Option(None, "--group-by", metavar="PATH", help="Dotted path of the task key, e.g. metadata.task")
MapOpt = typer.Option(None, "--map", metavar="FIELD=COL,...", help="Columns of a CSV or plain JSON lines log: "
                      "prompt=COL,model=COL and optionally response, task, system, id, time, input_tokens, "
                      "output_tokens, cost, expected, tags, status (a dotted path reaches into JSON cells, "
                      "e.g. response.choices.0.message.content; the prompt may be a message list).")
StrictOpt = typer.Option(False, "--strict", help="Exit 2 if any log line is skipped.")
EngineOpt = typer.Option(None, "--engine", metavar="NAME", help="Where to read: auto (default), stream, duckdb, "
                         "postgres, spark; auto streams plain files and uses DuckDB for Parquet, globs and object "
                         "storage.")
SinceOpt = typer.Option(None, "--since", metavar="TIME", help="Database rows from this start time on (ISO date or "
                        "time, UTC).")
UntilOpt = typer.Option(None, "--until", metavar="TIME", help="Database rows before this start time (ISO date or "
                        "time, UTC).")
AllowIncomplete = typer.Option(False, "--allow-incomplete", help="Use an incomplete audit's evidence anyway (a "
                               "tier could not be called, answers missing offline or over --budget).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tiertool {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """Prove which LLM task types can move to a cheaper model, and what that saves."""


def _err(msg: str) -> None:
    typer.echo(f"Error: {printable(msg)}", err=True)


def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call into the library; turn a domain error into one line on stderr and its exit code."""
    try:
        return fn(*args, **kwargs)
    except TiertoolError as e:
        _err(str(e))
        raise typer.Exit(e.exit_code) from None


@app.command(short_help="What the logs hold, before anything is spent.")
def inspect(
    logs: list[str] = LogsArg,  # str: a postgresql:// or s3:// URL is no path
    fmt: str | None = FormatOpt,
    group_by: str | None = GroupByOpt,
    mapping: str | None = MapOpt,
    strict: bool = StrictOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
    semantic: bool = typer.Option(False, "--semantic", help="Also group untagged free-form prompts by topic "
                                  "(TF-IDF clusters; needs scikit-learn: pip install 'tiertool[semantic]')."),
    requests: Path | None = typer.Option(None, "--requests", metavar="FILE", help="Write each request's typing "
                                         "to this CSV: id, source line, task type, how it was typed, its template "
                                         "or cluster."),
    engine: str | None = EngineOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    config: Path | None = typer.Option(None, "--config", "-c", metavar="FILE", help="Also count the requests "
                                       "litellm cannot send as logged to a tier of this config (as audit does)."),
    steps: bool = typer.Option(False, "--steps", help="Type each agent step apart, as `agent_steps: true` in "
                               "tiertool.yaml does for the audit: <task> › first | after <tool> | follow-up."),
) -> None:
    """Show what the LOG files hold (any supported format, detected; also globs, s3:// files or a postgresql://
    URL of LiteLLM's database): formats, records, skipped lines and why, task types, tokens, spend, models."""
    import json

    from . import inspect as inspect_logs
    from . import load_config, render_inspection

    tiers = _run(load_config, config).tiers if config else ()
    s = _run(inspect_logs, logs, fmt, group_by, mapping, semantic, requests, tiers, steps, engine=engine, since=since,
             until=until)
    typer.echo(json.dumps(s, indent=1) if as_json else render_inspection(s), nl=as_json)
    if strict and s["skipped"]:
        _err(f"--strict: {s['skipped']} line(s) skipped; first: "
             + "; ".join(f"{r['examples'][0]}: {r['reason']}" for r in s["skip_reasons"][:3]))
        raise typer.Exit(2)


@app.command(short_help="Write a starter tiertool.yaml from a log.")
def init(
    logs: list[Path] = LogsArg,
    out: Path = typer.Option(Path(CONFIG_FILE), "--out", "-o", metavar="FILE", help="Where to write the config."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
    fmt: str | None = FormatOpt,
    group_by: str | None = GroupByOpt,
    mapping: str | None = MapOpt,
) -> None:
    """Write a commented starter config from the LOG files: the models seen as tiers (cheapest first, the most
    used expensive one as the reference), each task type with its traffic and the scorer `auto` would pick."""
    from . import starter_config

    if out.exists() and not force:
        _err(f"{out} exists; pass --force to overwrite it, or --out FILE to write elsewhere")
        raise typer.Exit(2)
    starter = _run(starter_config, logs, fmt, group_by, mapping)
    out.write_text(starter.text, encoding="utf-8")
    typer.echo(f"{out}: {len(starter.tiers)} tiers ({', '.join(starter.tiers)}), {starter.tasks} task types; "
               f"fill in what it marks TODO (endpoints, keys)")
    typer.echo("next:")
    for command, why in starter.next_commands(out, logs, fmt, group_by, mapping):
        typer.echo(f"  {command}\n      {why}")


@app.command(short_help="Replay a sample on cheaper tiers, score it, store the evidence.")
def audit(
    logs: list[str] = LogsArg,  # str: a postgresql:// or s3:// URL is no path
    config: Path | None = ConfigOpt,
    out: Path = typer.Option(Path(AUDIT_DIR), "--out", "-o", metavar="DIR", help="Audit folder to write."),
    seed: int | None = typer.Option(None, "--seed", metavar="N", help="Sampling seed: the same seed samples the "
                                    "same requests [default: sample.seed, else 0]."),
    offline: bool = typer.Option(False, "--offline", help="Send no model call: answers come from the cache and "
                                 "recorded files."),
    fmt: str | None = FormatOpt,
    group_by: str | None = GroupByOpt,
    mapping: str | None = MapOpt,
    strict: bool = StrictOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
    labels: Path | None = typer.Option(None, "--labels", metavar="FILE", help="Imported grades / expected answers "
                                       "(JSON lines or CSV, per request_id) that override computed scores."),
    labels_fraction: float | None = typer.Option(
        None, "--labels-fraction", metavar="PI", min=0.0, max=1.0,
        help="The --labels were written for a random subset of requests, each with probability PI, independent "
             "of the answers: the report adds a prediction-powered lower bound on the labelled pass rate."),
    concurrency: int | None = typer.Option(None, "--concurrency", metavar="N", min=1, max=1024,
                                           help="Calls in flight per tier (overrides replay.concurrency)."),
    workers: int | None = typer.Option(None, "--workers", metavar="N", min=1, max=64,
                                       help="Processes replaying in parallel (overrides replay.workers)."),
    budget: float | None = typer.Option(None, "--budget", metavar="USD", min=0.0, help="Hard cap in USD: a call "
                                        "whose worst case could pass it is not sent."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (calls, tokens, USD per tier) and stop: "
                                 "nothing is sent or written."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before sending."),
    engine: str | None = EngineOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    batch: bool = typer.Option(False, "--batch", help="Send the cheaper tiers' calls through the provider's batch "
                               "API (OpenAI, Anthropic) at batch prices; resumable (sets replay.batch)."),
) -> None:
    """Read the LOG files (any supported format, detected; see `tiertool inspect`), sample each task type,
    replay the sample on cheaper tiers, score it, store the evidence."""
    from . import PlanDeclined, load_config, make_progress, run_audit

    cfg = _run(load_config, config)
    overrides = {k: v for k, v in (("concurrency", concurrency), ("workers", workers), ("batch", batch)) if v}
    if overrides:
        cfg = cfg.model_copy(update={"replay": cfg.replay.model_copy(update=overrides)})
    say = (lambda _m: None) if quiet else (lambda m: typer.echo(printable(m), err=True))
    options = {"budget": budget, "progress": make_progress(quiet),
               "approve": lambda plan: _approve(plan, dry_run, yes, quiet)}

    def go() -> Any:
        try:
            return run_audit(logs, cfg, out, seed=seed, offline=offline, fmt=fmt, group_by=group_by,
                             labels=labels, labels_fraction=labels_fraction, log=say, mapping=mapping,
                             strict=strict, replay_options=options, dry_run=dry_run, engine=engine, since=since,
                             until=until)
        except PlanDeclined:
            return None

    s = _run(go)
    if s is None:
        typer.echo("--dry-run: nothing sent, nothing written" if dry_run else "cancelled: nothing sent", err=True)
        raise typer.Exit(0 if dry_run else 1)
    if not quiet:
        typer.echo(f"audit: {s.records} records, {s.skipped} skipped, {s.tasks} task types, {s.sampled} sampled; "
                   f"{s.calls_sent} model calls sent, {s.cache_hits} cache hits, {s.failed} failed"
                   + (f", {len(s.unsent)} not answered" if s.unsent else "") + f" -> {s.folder}")
    for line in s.unsent[:20]:
        typer.echo(f"  not answered: {printable(line)}", err=True)
    if len(s.unsent) > 20:
        typer.echo(f"  ... and {len(s.unsent) - 20} more (see `tiertool report`)", err=True)
    if s.unsaved:
        _err(f"{s.unsaved} answers paid for could not be written to the cache (see below); they were scored in "
             f"this audit but a re-run will pay for them again")
    if s.missing_offline:
        _err(f"--offline: {s.missing_offline} answers are neither cached nor recorded; those samples are unscored "
             f"(run without --offline to fetch them)")
        raise typer.Exit(1)
    if s.over_budget:
        _err(f"--budget ${budget:,.4f} reached: {s.over_budget} calls not sent, their samples are unscored "
             f"(raise --budget and re-run: cached answers cost nothing)")
        raise typer.Exit(1)
    if s.error:  # a tier could not be called, calls failed or samples have no score: not a quality verdict
        _err(f"could not be audited: {s.error}")
        raise typer.Exit(1)


def _approve(plan: Any, dry_run: bool, yes: bool, quiet: bool) -> bool:
    """Show the plan; ask on a terminal unless --yes or nothing is to be sent; --dry-run stops here."""
    ask = plan.calls > 0 and not (yes or dry_run) and _interactive()
    if dry_run or ask or not quiet:
        for line in plan.lines():
            typer.echo(line, err=True)
    if dry_run:
        return False
    return typer.confirm("send these calls?", default=True, err=True) if ask else True


def _interactive() -> bool:
    return sys.stdin.isatty()


@app.command(short_help="Pick the cheapest proven tier per task type; write tiers.yaml.")
def recommend(
    audit_dir: Path = AuditDir,
    out: Path = typer.Option(Path(TIERS_FILE), "--out", "-o", metavar="FILE", help="Where to write the assignment."),
    litellm_config: Path | None = typer.Option(None, "--litellm-config", metavar="FILE",
                                                  help="Also write a LiteLLM proxy config routing each task to "
                                                       "its tier, with fallbacks to the reference."),
    model_name: str | None = typer.Option(None, "--model-name", metavar="NAME", help="The model (group) name "
                                          "clients call on the proxy (default: the one the log's clients called)."),
    merge: Path | None = typer.Option(None, "--merge", metavar="FILE", help="Merge the proxy config into this "
                                      "existing LiteLLM config, keeping its other models and settings."),
    allow_incomplete: bool = AllowIncomplete,
    gate: Path | None = typer.Option(None, "--gate", metavar="FILE", help="A gate file (the audit's gate.json): the "
                                     "LiteLLM config also loads its pre-call hook, which routes request by request."),
) -> None:
    """Pick the cheapest tier per task type whose pass rate is proven to meet the bar; write tiers.yaml.
    An incomplete audit is refused (exit 1) unless --allow-incomplete."""
    from . import load_audit, proxy_files, write_tiers
    from . import recommend as recommend_audit

    if (model_name or merge) and not litellm_config:
        _err("--model-name and --merge shape the proxy config: add --litellm-config FILE")
        raise typer.Exit(2)
    if gate and not litellm_config:
        _err("--gate needs --litellm-config: the gate is deployed as the proxy config's pre-call hook")
        raise typer.Exit(2)
    audit_ = _run(load_audit, audit_dir)
    incomplete = _run(audit_.require_complete, allow_incomplete)
    rec = _run(recommend_audit, audit_)
    # every input read and checked before anything is written: no tiers.yaml beside a config that failed
    proxy = _run(proxy_files, rec, litellm_config, model_name, merge, gate_path=gate) if litellm_config else None
    write_tiers(rec, out)
    moved = sum(d.tier != rec.config.reference.name for d in rec.decisions)
    s = rec.savings
    monthly = s.per_30_days(s.saved_usd)
    line = f"{moved} of {len(rec.decisions)} task types move to a cheaper tier; saves {s.saved_fraction:.1%}"
    if monthly is not None:
        line += f" (${monthly:,.2f} per 30 days" + (f", scaled up from {s.short_span} of log" if s.short_span
                                                     else "") + ")"
    typer.echo(f"{line} -> {out}")
    if incomplete:
        typer.echo(f"warning: --allow-incomplete: {incomplete}", err=True)
    if proxy is not None:
        routes = _run(proxy.write)
        typer.echo(f"LiteLLM proxy config -> {litellm_config}" + (f" (merged into {merge})" if merge else "")
                   + (f" (with the gate {gate})" if gate else ""))
        untagged = [r for r in routes if not r.clients_send_it]
        if untagged:
            share = sum(r.saved_usd for r in untagged) / s.saved_usd if s.saved_usd > 0 else 0.0
            typer.echo(f"needs client tags: {len(untagged)} moved task type(s), {share:.0%} of the saving, reach "
                       "their tier only once clients tag their requests:")
            for r in untagged:
                typer.echo(f"  {r.task}: {r.client_change}")


@app.command(short_help="Decisions, evidence and savings (term, md, html, json); CI gates.")
def report(
    audit_dir: Path = AuditDir,
    tiers: Path | None = typer.Option(None, "--tiers", metavar="FILE", help="Show this tiers.yaml's assignment "
                                      "instead of deciding afresh."),
    fmt: str = typer.Option("term", "--format", "-f", metavar="|".join(REPORT_FORMATS),
                            help=f"Report format: {', '.join(REPORT_FORMATS)}."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="FILE", help="Write the report to a file."),
    examples: int = typer.Option(0, "--examples", metavar="N", min=0, help="Show the N worst-scoring examples per "
                                 "task (prompts and answers are customer data: off by default)."),
    redact: bool = typer.Option(False, "--redact", help="Mask e-mails, phone and card numbers and API keys."),
    check: bool = typer.Option(False, "--check", help="Run the CI gates; exit 1 when one fails."),
    baseline: Path | None = typer.Option(None, "--baseline", metavar="FILE", help="Committed tiers.yaml to gate "
                                         "against [default with --check: --tiers, else ./tiers.yaml if present]."),
    fail_under_savings: str | None = typer.Option(None, "--fail-under-savings", metavar="FRACTION",
                                                  help="Gate: projected savings at least this (0.2 or 20%)."),
    new_log: list[Path] | None = typer.Option(None, "--log", metavar="LOG", help="Gate: a newer log whose task "
                                              "mix must not have drifted from the audited one."),
    drift_threshold: float = typer.Option(DRIFT_THRESHOLD, "--drift-threshold", metavar="PSI", min=0,
                                          help="Gate: largest population stability index allowed."),
    today: str | None = typer.Option(None, "--today", metavar="YYYY-MM-DD", help="Judge deprecation dates as of "
                                     "this day [default: today]."),
    all_deprecations: bool = typer.Option(False, "--all-deprecations", help="Warn of every dated deprecation of "
                                          "an assigned model, not only those within 90 days."),
    allow_incomplete: bool = AllowIncomplete,
) -> None:
    """Show the decisions, their evidence and the savings; with --check, gate CI on them (an incomplete audit
    fails the `audit` gate unless --allow-incomplete)."""
    from . import build_report, gate_lines, load_audit, render_report

    if fmt not in REPORT_FORMATS:
        _err(f"--format {fmt}: expected one of {', '.join(REPORT_FORMATS)}")
        raise typer.Exit(2)
    color = fmt == "term" and out is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    report_ = _run(lambda: build_report(
        load_audit(audit_dir), tiers=tiers, examples=examples, today=today, check=check, baseline=baseline,
        fail_under_savings=fail_under_savings, new_logs=new_log or [], drift_threshold=drift_threshold,
        redact=redact, allow_incomplete=allow_incomplete, all_deprecations=all_deprecations))
    text = render_report(report_, fmt, color)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _run(_append, Path(summary), text if fmt == "md" else render_report(report_, "md"))
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"report -> {out}", err=True)
    else:
        typer.echo(text, nl=False)
    for line in gate_lines(report_):
        typer.echo(printable(line), err=True)
    if report_.failed:
        raise typer.Exit(1)


def _append(path: Path, text: str) -> None:
    """Add the markdown report to GitHub's step summary."""
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    except OSError as e:
        raise InputError(f"{path}: cannot write the step summary (GITHUB_STEP_SUMMARY): {e.strerror}") from None


@app.command(short_help="Re-score the cheaper tiers on live traffic.")
def monitor(
    logs: list[Path] = LogsArg,
    tiers: Path = typer.Option(Path(TIERS_FILE), "--tiers", metavar="FILE", help="The assignment in force."),
    router: bool = typer.Option(False, "--router", help="Audit an existing router instead (LiteLLM auto or "
                                "complexity routing, OpenRouter auto, your own): check every cheaper tier that "
                                "served part of a task; no tiers file."),
    config: Path | None = ConfigOpt,
    per_task: int | None = typer.Option(None, "--per-task", metavar="N", min=1, help="Requests sampled per task "
                                        "[default: sample.per_task]."),
    seed: int | None = typer.Option(None, "--seed", metavar="N", help="Sampling seed [default: sample.seed, "
                                    "else 0]."),
    offline: bool = typer.Option(False, "--offline", help="Send no model call: reference answers come from the "
                                 "cache."),
    fmt: str = typer.Option("term", "--format", "-f", metavar="term|json", help="Output format: term, json."),
    gate: Path | None = typer.Option(None, "--gate", metavar="FILE", help="The gate file in force: its routed "
                                     "traffic is checked too."),
) -> None:
    """Re-score each cheaper tier on the live traffic of the LOG files (which already follow tiers.yaml)
    against the reference; exit 1 when a task fell below the bar."""
    import json

    from . import load_config, load_gate, load_tiers
    from . import monitor as monitor_logs

    if fmt not in ("term", "json"):
        _err(f"--format {fmt}: expected term or json")
        raise typer.Exit(2)
    cfg = _run(load_config, config)
    assignment = None if router else _run(load_tiers, tiers)
    gated = _run(load_gate, gate) if gate else None
    result = _run(monitor_logs, logs, cfg, assignment, cfg.cache_file(AUDIT_DIR), per_task=per_task,
                  seed=cfg.sample.seed if seed is None else seed,
                  offline=offline, log=lambda m: typer.echo(m, err=True), gate=gated)
    typer.echo(json.dumps(result.as_dict(), indent=2) if fmt == "json" else result.text(), nl=fmt == "json")
    for t in result.flagged:
        typer.echo(f"below the bar: {printable(t.task)}: tier {t.tier} passed {t.passed}/{t.scored} "
                   f"(at most {t.upper_bound:.1%} at {result.confidence:g} confidence) < {result.target:g}", err=True)
    for t in result.tasks:
        if t.status == "not replayable":
            typer.echo(f"warning: {printable(t.task)}: tier {t.tier} served it, but none of those requests can be "
                       "sent to the reference as logged, so it is not checked (`tiertool inspect LOG --config` "
                       "says why)", err=True)
    if result.error:
        _err(result.error)
    if result.flagged or result.error:
        raise typer.Exit(1)


def main() -> None:
    """The `tiertool` command: Ctrl-C ends it with one line and exit code 130, never a traceback."""
    import click

    usage_error = getattr(typer, "TyperException", click.ClickException)  # typer may vendor click
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, click.exceptions.Abort) as e:
        if isinstance(e.__context__, EOFError):  # a prompt met the end of its input
            typer.echo("", err=True)  # end the prompt's line
            _err("no answer at the prompt (end of input); pass --yes to send without asking")
            sys.exit(1)
        _interrupted()
    except KeyboardInterrupt:
        _interrupted()
    except usage_error as e:
        e.show()
        sys.exit(e.exit_code)
    if code == 130:  # typer's own answer to Ctrl-C (tiertool never exits 130 itself)
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)


def _interrupted() -> None:
    _err("interrupted: answers received so far are cached; re-run the same command to continue")
    sys.exit(130)
