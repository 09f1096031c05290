"""DACON import speed: `db.dacon.import_dacon` (bulk INSERTs) vs a naive ORM loop, same data, same run.

Reads ../shared/data/dacon/dev.csv + test.csv (516 rows -> 5,160 pairs, 130 test questions) when
present, else the shipped sample repeated to 516 rows. Each variant imports into a fresh migrated
SQLite file (and PostgreSQL too when DOBAE_TEST_DATABASE_URL is set); the best of 3 runs counts.
Also times the re-import (idempotent: adds nothing) and an export of all pairs.

    python benchmarks/dacon_import_bench.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "dacon"
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402


def data(tmp: Path) -> tuple[Path, Path | None, str]:
    if (SHARED / "dev.csv").exists():
        return (
            SHARED / "dev.csv",
            SHARED / "test.csv",
            "../shared/data/dacon (dev.csv 516 rows, test.csv 130)",
        )
    from db.dacon import SAMPLE_TEST, SAMPLE_TRAIN

    lines = SAMPLE_TRAIN.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    out = [header] + [r.replace("SAMPLE_TRAIN_0", f"BENCH_{k:02d}_") for k in range(43) for r in rows][:516]
    path = tmp / "train.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path, SAMPLE_TEST, "shipped sample repeated to 516 rows (shared data not found)"


def naive(url: str, train: Path, test: Path | None) -> None:
    """The obvious ORM loop: one object per pair/review/event, flushed one by one."""
    from db.dacon import read_test, read_train
    from db.models import Origin, QAPair, Question, Review, ReviewEvent, ReviewStatus, Source, Split
    from db.session import session_scope

    items = read_train(train)
    tests = read_test(test) if test else []
    with session_scope(url) as s:
        src = Source(name="dacon", kind="dataset")
        s.add(src)
        s.flush()
        for it in items:
            for qi, q in enumerate(it.questions, 1):
                for aj, a in enumerate(it.answers, 1):
                    p = QAPair(
                        key=f"dacon:{it.id}:q{qi}:a{aj}",
                        question_text=q,
                        answer_text=a,
                        category=it.category,
                        origin=Origin.dacon,
                        group_id=f"dacon:{it.id}",
                    )
                    s.add(p)
                    s.flush()
                    s.add(Review(pair_id=p.id, status=ReviewStatus.approved, reviewer="dacon"))
                    s.add(ReviewEvent(pair_id=p.id, to_status="approved", actor="dacon"))
                    s.flush()
        for t in tests:
            s.add(Question(source_id=src.id, external_id=t.id, body=t.question, split=Split.test))
            s.flush()


def best_of(n: int, setup, fn) -> float:
    times = []
    for _ in range(n):
        url = setup()
        t0 = time.perf_counter()
        fn(url)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from db.dacon import count_dacon, import_dacon
    from db.export import export_pairs
    from db.migrate import upgrade
    from db.session import dispose_engines, session_scope

    tmp = Path(tempfile.mkdtemp(prefix="dacon-bench-"))
    train, test, label = data(tmp)
    template = tmp / "template.db"
    upgrade(f"sqlite:///{template}")
    counter = iter(range(1000))

    def fresh_sqlite() -> str:
        dispose_engines()
        path = tmp / f"db{next(counter)}.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"

    backends = [("sqlite", fresh_sqlite)]
    pg = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
    if pg:
        from db.migrate import downgrade

        def fresh_pg() -> str:
            dispose_engines()
            downgrade(pg, "base")
            upgrade(pg)
            return pg

        backends.append(("postgresql", fresh_pg))

    print(f"machine: {describe()}")
    print(f"data: {label}")
    for name, fresh in backends:
        fast = best_of(3, fresh, lambda u: import_dacon(train, test, url=u))
        u = fresh()
        import_dacon(train, test, url=u)
        t0 = time.perf_counter()
        again = import_dacon(train, test, url=u)
        reimport = time.perf_counter() - t0
        with session_scope(u) as s:
            pairs, groups, tests = count_dacon(s, "dacon")
        t0 = time.perf_counter()
        exp = export_pairs(tmp / "all.jsonl", statuses=["all"], url=u)
        export_s = time.perf_counter() - t0
        slow = best_of(3, fresh, lambda u: naive(u, train, test))
        rows = again.train_rows
        print(f"[{name}] import: {pairs} pairs in {groups} groups + {tests} test questions")
        print(f"[{name}]   bulk import_dacon   {fast:.3f} s  ({fast / rows * 100:.3f} s per 100 rows)")
        print(f"[{name}]   naive ORM baseline  {slow:.3f} s  ({slow / rows * 100:.3f} s per 100 rows)")
        print(f"[{name}]   speed-up vs baseline: {slow / fast:.1f}x")
        print(f"[{name}]   re-import (adds {again.pairs_added}): {reimport:.3f} s")
        print(f"[{name}]   export {exp.rows} pairs to JSONL: {export_s:.3f} s")
    dispose_engines()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
