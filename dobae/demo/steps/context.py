"""What every demo step shares: the context it runs in (`DemoContext`), the `Outcome` it returns,
and the paths several steps read (this input's test file, the prepared model, the LoRA run)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from foundation.console import console
from foundation.settings import Settings


@dataclass(frozen=True)
class Outcome:
    """What a step did: one line for the summary, and whether it skipped work already done."""

    detail: str
    skipped: bool = False


@dataclass
class DemoContext:
    settings: Settings
    train_csv: Path | None
    test_csv: Path | None
    work: Path
    base_url: str | None = None  # a site to crawl; None: the crawl step starts the sandbox site
    state: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.settings.db_url

    @cached_property
    def out(self) -> Path:
        """This input's outputs (export, run, answers, submission): `work/sample` for the shipped
        sample, else `work/dacon-<sha256 of the files>`, so other files never reuse stale outputs."""
        if not (self.train_csv or self.test_csv):
            return self.work / "sample"
        h = hashlib.sha256()
        for p in (self.train_csv, self.test_csv):
            h.update(Path(p).read_bytes() if p else b"-")
            h.update(b"\0")
        return self.work / f"dacon-{h.hexdigest()[:10]}"

    @property
    def source(self) -> str:
        """The DACON-format source the import step wrote (db.dacon)."""
        from db.dacon import SAMPLE_SOURCE, SOURCE

        return SOURCE if self.train_csv else SAMPLE_SOURCE


def questions_csv(ctx: DemoContext) -> Path:
    """The test questions: `--test`, else the shipped sample's."""
    if ctx.test_csv:
        return ctx.test_csv
    from db.dacon import SAMPLE_TEST

    return Path(SAMPLE_TEST)


def llm_model_dir(ctx: DemoContext) -> Path:
    """The prepared Gemma folder: made once; `prepare` also completes a folder prepared by an older
    version (adds the chat template the local server needs) without converting again."""
    from train import models

    if not (models.prepared_path("gemma3-270m") / "config.json").exists():
        console.print("  preparing gemma3-270m offline (once) …")
    return models.prepare("gemma3-270m", log=lambda m: console.print("  " + m, markup=False))


def lora_run_dir(ctx: DemoContext) -> Path:
    """The demo's LoRA run folder for this input."""
    return ctx.out / "runs" / "demo"
