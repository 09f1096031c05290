"""The suite's files, longest first: pytest-xdist (`--dist loadfile --no-loadscope-reorder`) hands
files to workers in collection order, so the files that start real processes (crawls, training,
servers) begin at once and the many quick ones fill the gaps at the end, instead of a 100-second
file starting last and running alone (xdist's own reorder puts the files with the most tests first:
the quick parse tables). The order comes from `tests/durations.json`, seconds per file as last
measured; a file not in it counts as quick. Refresh it after adding a slow file:
`make test PYTEST_ARGS="--write-durations tests/path/test_new.py"` (the files run are updated;
stale numbers only cost time, never a result: tests do not depend on their order).

Not done: keeping the files that share an expensive session fixture (a trained tiny run, a model
server) on one worker. xdist's `--dist loadgroup` would, but with pytest 9.2 it groups nothing:
xdist 3.8 renames the item (`item._nodeid`) and pytest 9 computes `nodeid` from `_id` now."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

DURATIONS = Path(__file__).with_name("durations.json")
_measured: Counter[str] = Counter()


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--write-durations",
        action="store_true",
        help=f"write each file's total test time to {DURATIONS.name} (the order of the next runs)",
    )


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items) -> None:
    weights = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(file_of(item.nodeid), i)
    items.sort(key=lambda it: (-weights.get(file_of(it.nodeid), 0.0), first_seen[file_of(it.nodeid)]))


def pytest_runtest_logreport(report) -> None:
    _measured[file_of(report.nodeid)] += report.duration  # setup, call and teardown


def pytest_sessionfinish(session, exitstatus) -> None:
    if not session.config.getoption("--write-durations") or hasattr(session.config, "workerinput"):
        return  # (an xdist worker: the controller sees every report and writes the file)
    # merged: a run of a few files updates those and keeps the others' figures
    known = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}
    known.update({f: s for f, s in _measured.items() if Path(f).exists()})
    rounded = {f: round(s, 1) for f, s in sorted(known.items(), key=lambda kv: -kv[1]) if s >= 0.5}
    DURATIONS.write_text(json.dumps(rounded, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
