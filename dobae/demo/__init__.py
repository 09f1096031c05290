"""`dobae demo`: the main job end to end, each step through its stage's Python API or CLI.

sandbox site → `scrapy crawl ohouse` → DACON import → augmentation through a local
OpenAI-compatible server → review flags → export of approved pairs → a short CPU LoRA run →
batch inference → submission with the best measured answerer (`infer.evaluation.auto`) + proxy scores.

- `steps/`: one function per step, returning its `Outcome` as data (skips work already done,
  read from the database's read model `db.summary` and the run folders), one module per stage
  (`data.py`, `augmentation.py`, `training.py`, `answering.py`; `context.py`: what they share);
- `processes.py`: the processes the steps start and stop (sandbox site, crawl, local model server);
- `run.py`: `run_demo` runs the steps in order (a failed step blocks its dependants),
  `print_summary` prints the table.
"""

from dobae.demo.run import StepResult, print_summary, run_demo
from dobae.demo.steps.answering import INFER_LIMIT
from dobae.demo.steps.context import DemoContext, Outcome

__all__ = ["INFER_LIMIT", "DemoContext", "Outcome", "StepResult", "print_summary", "run_demo"]
