"""The demo's steps: one function per step, each through its stage's Python API, returning its
`Outcome` as data (what happened, and whether it skipped work already done).

Every step first checks the database (the read model, `db.summary`) and the run folders and skips
work that is already done for this input, so a second run reuses the first. The processes a step
needs (sandbox site, crawl, local model server) are started and stopped by `dobae.demo.processes`;
`STEPS` is the order and the dependencies, which `dobae.demo.run` follows.

One module per stage: `data.py` (crawl, import), `augmentation.py` (augment, curate, docs,
review), `training.py` (export, train), `answering.py` (infer, submit, ablate); `context.py` holds
what they share. Every name is importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable

from dobae.demo.steps.answering import INFER_LIMIT, step_ablate, step_infer, step_submit
from dobae.demo.steps.augmentation import (
    DOCS_CHUNKS,
    _augment_done,
    _augment_selection,
    step_augment,
    step_curate,
    step_docs,
    step_review,
)
from dobae.demo.steps.context import DemoContext, Outcome
from dobae.demo.steps.data import step_crawl, step_import
from dobae.demo.steps.training import step_export, step_train

__all__ = [
    "DOCS_CHUNKS",
    "INFER_LIMIT",
    "STEPS",
    "DemoContext",
    "Outcome",
    "_augment_done",
    "_augment_selection",
    "step_ablate",
    "step_augment",
    "step_crawl",
    "step_curate",
    "step_docs",
    "step_export",
    "step_import",
    "step_infer",
    "step_review",
    "step_submit",
    "step_train",
]

STEPS: list[tuple[str, Callable[[DemoContext], Outcome], tuple[str, ...]]] = [
    ("crawl", step_crawl, ()),
    ("import", step_import, ()),
    ("curate", step_curate, ("crawl",)),
    ("augment", step_augment, ("import",)),
    ("docs", step_docs, ()),
    ("review", step_review, ("augment",)),
    ("export", step_export, ("import",)),
    ("train", step_train, ("export",)),
    ("infer", step_infer, ("train",)),
    ("submit", step_submit, ("train",)),
    ("ablate", step_ablate, ("import",)),
]
