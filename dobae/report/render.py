"""`dobae report`'s page: the data gathered, the sections built, the Jinja template rendered, the
file written atomically."""

from __future__ import annotations

import html
from pathlib import Path

from dobae.report.data import load
from dobae.report.plots import setup_matplotlib
from dobae.report.sections import (
    Section,
    ablation_section,
    analysis_section,
    crawl_section,
    review_section,
    score_section,
    training_section,
)
from foundation.console import console, esc


def _render(sections: list[Section], title: str) -> str:
    from datetime import UTC, datetime

    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("dobae", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("report.html.j2").render(
        title=title,
        sections=sections,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        esc=html.escape,
    )


def build_report(url: str | None = None, embedder: str | None = None) -> str:
    """The report as an HTML string. `embedder`: a spec for qa.embedders (None: settings), or "none"."""
    from db.migrate import ensure_schema
    from foundation.settings import get_settings

    settings = get_settings()
    url = url or settings.db_url
    ensure_schema(url)
    data = load(url)
    plt = setup_matplotlib()
    emb = None
    if embedder != "none" and data["pairs"]:
        try:
            from qa.embedders import load_embedder
        except ImportError as exc:
            console.print(
                f"[yellow]similarity plots skipped: stage infer not available ({esc(exc)})", markup=True
            )
        else:
            emb = load_embedder(embedder or settings.embedder)
    sections = [
        *analysis_section(plt, data["pairs"], emb),
        crawl_section(plt, data["crawls"], data["posted"]),
        *review_section(plt, data["pairs"], data["progress"]),
        training_section(plt, data["runs"]),
        score_section(plt, data["evals"]),
    ]
    ablation = ablation_section(plt, data["evals"])
    if ablation is not None:
        sections.append(ablation)
    return _render(sections, "dobae report")


def write_report(
    out: Path | str, url: str | None = None, embedder: str | None = None, force: bool = False
) -> Path:
    """Write the report to `out` atomically; an existing file only with `force` (checked first)."""
    from foundation.outfile import atomic_path, check_out_file

    out = check_out_file(out, force, example="report.html")
    text = build_report(url, embedder)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    console.print(f"report written: {out} ({len(text) / 1024:.0f} KiB)")
    return out
