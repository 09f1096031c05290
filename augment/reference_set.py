"""The reference set shipped with the project (written for it, in `augment/reference/`): its
sources, and the small PDF built from its Markdown in a Hangul font (the same bytes on every build)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from augment.doc_reading import decode_utf8, tidy_text

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


def reference_sources() -> list[Path]:
    """The reference set shipped with the project (written for it): Markdown and its PDF."""
    return sorted(p for p in REFERENCE_DIR.iterdir() if p.suffix in (".md", ".pdf"))


def write_reference_pdf(markdown: Path, out: Path, font: Path | None = None) -> Path:
    """A small PDF of a Markdown file (headings bold and larger), set in a Hangul font (fonts-nanum)."""
    import logging

    from fpdf import FPDF

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "TSI0 NOT subset" notes
    font = font or find_hangul_font()
    raw = tidy_text(decode_utf8(markdown.read_bytes(), str(markdown)))
    title = re.search(r"^#\s+(.+)$", raw, re.M)
    pdf = FPDF(format=(105, 148))  # A6 in mm: a few pages
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # the same bytes on every build
    pdf.set_title(title.group(1).strip() if title else markdown.stem)
    pdf.set_author("dobae")
    pdf.add_font("hangul", "", str(font))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    for block in re.split(r"\n\s*\n", raw):
        block = block.strip()
        level = len(block) - len(block.lstrip("#"))
        body = block.lstrip("#").strip()
        pdf.set_font("hangul", size={1: 15, 2: 12}.get(level, 10))
        pdf.multi_cell(0, 6 if level else 5.5, body, align="L")
        pdf.ln(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


def find_hangul_font() -> Path:
    for candidate in (
        Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
        Path("/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf"),
    ):
        if candidate.exists():
            return candidate
    from foundation.errors import ConfigError

    raise ConfigError("no Hangul font for the reference PDF: apt-get install fonts-nanum (make system-deps)")
