"""`dobae report`: one self-contained HTML file (plots as embedded PNG, and the tables behind them).

Sections: the seed team's data analysis of the DACON-format pairs (per field: bytes, Hangul
syllables, sentences; length distributions; question–answer and question–question similarity via
the project's embedder; categories), crawl runs over time, review status and reasons, pairs by
origin and category, training loss (run folders' log.jsonl), scores by category and single/double
(evaluations.breakdown). No CDN, no script: it opens offline.

- `data.py`: the data, read from the read model (`db.summary`);
- `sections.py`: each section's tables and plots;
- `plots.py`: matplotlib (headless, a Hangul font) and a figure as an embedded PNG;
- `render.py`: `build_report` (data → sections → the Jinja page) and `write_report` (atomic).
"""

from dobae.report.render import build_report, write_report
from dobae.report.sections import count_sentences, text_stats

__all__ = ["build_report", "count_sentences", "text_stats", "write_report"]
