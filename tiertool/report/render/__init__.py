"""The registry of report renderers: each takes the typed report and returns text (so tests snapshot it and
the CLI only prints or writes it)."""

from __future__ import annotations

import json
from collections.abc import Callable

from ...errors import InputError
from ..model import Report
from .html import render_html
from .md import render_md
from .term import render_term


def render_json(report: Report, color: bool = False) -> str:
    return json.dumps(report.dump(), indent=2, ensure_ascii=False) + "\n"


Renderer = Callable[[Report, bool], str]  # (report, colour on a terminal) -> text
RENDERERS: dict[str, Renderer] = {"term": render_term, "md": render_md, "html": render_html, "json": render_json}


def render_report(report: Report, fmt: str = "term", color: bool = False) -> str:
    """The report in one of RENDERERS' formats."""
    if fmt not in RENDERERS:
        raise InputError(f"--format {fmt}: expected one of {', '.join(RENDERERS)}")
    return RENDERERS[fmt](report, color)
