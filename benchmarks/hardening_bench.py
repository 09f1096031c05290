"""The cost of the hostile-cell checks, measured against the same work without them, same run.

1. Reading a DACON train file: `db.dacon.read_train` (placeholders, 128 KiB cell limit, widths,
   encodings) vs the bare `csv.reader` over the same bytes.
2. A CSV export (`db.export._write`) with the formula guard vs the same writer with the guard
   switched off, and the review import's `restore` pass over every cell.
Data: ../shared/data/dacon/dev.csv when present (516 rows), else the shipped sample repeated.

    python benchmarks/hardening_bench.py
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402


def _train_file(tmp: Path) -> tuple[Path, str]:
    for shared in (
        ROOT.parent / "shared" / "data" / "dacon",
        ROOT.parent.parent / "shared" / "data" / "dacon",
    ):
        if (shared / "dev.csv").exists():
            return shared / "dev.csv", f"{shared / 'dev.csv'}"
    from db.dacon import SAMPLE_TRAIN

    lines = SAMPLE_TRAIN.read_text(encoding="utf-8").splitlines()
    rows = [r.replace("SAMPLE_TRAIN_0", f"BENCH_{k:02d}_") for k in range(43) for r in lines[1:]][:516]
    path = tmp / "train.csv"
    path.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    return path, "shipped sample repeated to 516 rows"


def best(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    import db.spreadsheet
    from db.dacon import read_train
    from db.export import _write

    tmp = Path(tempfile.mkdtemp(prefix="hardening-bench-"))
    train, label = _train_file(tmp)
    print(f"machine: {describe()}")
    print(f"data: {label}")

    raw = train.read_bytes()
    bare = best(5, lambda: list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))))
    checked = best(5, lambda: read_train(train))
    items = read_train(train)
    print(f"read {len(items)} train rows: checked {checked * 1000:.1f} ms, bare csv.reader {bare * 1000:.1f} ms "
          f"(ratio {checked / bare:.1f}x: all checks, NFC and stripping)")  # fmt: skip

    rows = [
        {"id": i, "key": f"k{i}", "group_id": f"g{i // 10}", "question": q, "answer": a, "category": it.category,
         "origin": "dacon", "parent_id": None, "source_groups": [f"g{i // 10}"], "split": None,
         "status": "approved", "reasons": [], "note": None, "version": 1}
        for i, (it, q, a) in enumerate((it, q, a) for it in items for q in it.questions for a in it.answers)
    ]  # fmt: skip
    out = tmp / "x.csv"
    guarded = best(5, lambda: _write(rows, out, "csv"))
    real = db.spreadsheet.neutralise
    db.spreadsheet.neutralise = lambda v: v
    try:
        plain = best(5, lambda: _write(rows, out, "csv"))
    finally:
        db.spreadsheet.neutralise = real
    cells = [v for r in rows for v in r.values() if isinstance(v, str)]
    restore = best(5, lambda: [db.spreadsheet.restore(c) for c in cells])
    print(f"CSV export of {len(rows)} pairs: guarded {guarded * 1000:.1f} ms, unguarded {plain * 1000:.1f} ms "
          f"(ratio {guarded / plain:.2f}x); restore over {len(cells)} cells {restore * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
