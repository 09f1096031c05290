"""matplotlib for the report: no display, a Hangul font (added by hand when the font cache predates
it), and a figure as an embedded PNG."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from foundation.console import console

FONT_CANDIDATES = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Noto Sans CJK JP")


def _hangul_font(font_manager) -> str | None:
    """The first Hangul font matplotlib knows. Its font cache is not rebuilt when fonts are
    installed later (fonts-nanum after a first plot): then the system's Hangul font files are
    added to this process's font list."""

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in FONT_CANDIDATES if n in names), None)

    font = known()
    if font is None:
        for path in font_manager.findSystemFonts():
            if Path(path).name.startswith(("NanumGothic", "NanumBarunGothic", "NotoSansCJK", "NotoSansKR")):
                font_manager.fontManager.addfont(path)
        font = known()
    return font


def setup_matplotlib():
    """matplotlib without a display, with a Hangul font when the machine has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    font = _hangul_font(font_manager)
    if font is None:
        console.print(
            "[yellow]no Hangul font found (install fonts-nanum or fonts-noto-cjk): Korean labels may show as boxes",
            markup=True,
        )
    else:
        plt.rcParams["font.family"] = [font, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["figure.constrained_layout.use"] = True  # long Korean tick labels never overlap
    plt.rcParams["figure.dpi"] = 90
    return plt


def png(fig) -> str:
    """A figure as a PNG data URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
