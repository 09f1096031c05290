"""DACON 236216 data (도배 하자 질의 응답 처리): read the CSVs, import them, load them back.

- Train rows (`id, 질문_1, 질문_2, category, 답변_1 … 답변_5`): the two phrasings × five answers
  become ten `qa_pairs` in one group (`dacon:TRAIN_000`), origin `dacon`, split NULL (the
  cross-validation decides folds), each approved by reviewer `dacon` (human-written data).
  Natural keys (`dacon:TRAIN_000:q1:a3`) make a re-import add nothing.
- Test rows (`id, 질문`): unanswered `questions` of split `test` (source `dacon`, external id `TEST_000`).

Reading validates everything before anything is written; import is one transaction.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.export import too_long_to_export
from db.models import Origin, QAPair, Question, ReviewStatus, Source, Split
from db.tabular import Table, check_columns, missing, read_csv
from foundation.errors import DobaeError, InputError

TRAIN_COLUMNS = ("id", "질문_1", "질문_2", "category", "답변_1", "답변_2", "답변_3", "답변_4", "답변_5")
TEST_COLUMNS = ("id", "질문")
N_QUESTIONS, N_ANSWERS = 2, 5
SOURCE = "dacon"
SAMPLE_SOURCE = "dacon-sample"
REVIEWER = "dacon"
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_TRAIN = SAMPLE_DIR / "train_sample.csv"
SAMPLE_TEST = SAMPLE_DIR / "test_sample.csv"
DACON_URL = "https://dacon.io/competitions/official/236216/data"


@dataclass(frozen=True)
class DaconItem:
    """One train row: a question in two phrasings, five reference answers, a category."""

    id: str
    questions: tuple[str, ...]  # (질문_1, 질문_2)
    answers: tuple[str, ...]  # (답변_1 … 답변_5)
    category: str


@dataclass(frozen=True)
class DaconTestQuestion:
    id: str
    question: str


@dataclass
class ImportSummary:
    source: str
    train_rows: int = 0
    pairs_added: int = 0
    pairs_existing: int = 0
    pairs_differ: int = 0  # already imported, but the database text differs (edited in review?)
    groups_added: int = 0
    test_rows: int = 0
    test_added: int = 0
    test_existing: int = 0
    test_differ: int = 0
    seconds: float = 0.0


def pair_key(source: str, item_id: str, q: int, a: int) -> str:
    return f"{source}:{item_id}:q{q}:a{a}"


def group_id(source: str, item_id: str) -> str:
    return f"{source}:{item_id}"


# --------------------------------------------------------------------------- reading


MAX_CHARS = {"id": 100, "category": 100}  # the columns' sizes in the schema (keys add a prefix)


def _require_cells(table: Table) -> None:
    seen: dict[str, int] = {}
    for rec in table.records:
        for col in table.columns:
            why = missing(rec.values[col])
            if why:
                what = "empty cell" if why == "empty" else why
                raise InputError(f"{table.where(rec, col)}: {what}; every column needs a value")
            limit = MAX_CHARS.get(col)
            if limit and len(rec.values[col]) > limit:
                raise InputError(
                    f"{table.where(rec, col)}: {len(rec.values[col])} characters, at most {limit} fit; "
                    "is this the right column?"
                )
            why = None if limit else too_long_to_export(rec.values[col])  # a pair's question or answer
            if why:
                raise InputError(f"{table.where(rec, col)}: {why}; shorten it")
        rid = rec.values["id"]
        if rid in seen:
            raise InputError(f"{table.where(rec, 'id')}: duplicate id {rid!r} (first on line {seen[rid]})")
        seen[rid] = rec.line
    if not table.records:
        raise InputError(f"{table.path}: no data rows after the header")


def read_train(path: Path | str) -> list[DaconItem]:
    """Validated train rows in file order (InputError naming file, line and column otherwise)."""
    table = read_csv(path, "CSV")
    hint = ""
    if set(table.columns) == set(TEST_COLUMNS):
        hint = "This looks like a test file: pass it with --test."
    check_columns(table.path, table.columns, TRAIN_COLUMNS, hint)
    _require_cells(table)
    return [
        DaconItem(
            id=r.values["id"],
            questions=tuple(r.values[f"질문_{i}"] for i in range(1, N_QUESTIONS + 1)),
            answers=tuple(r.values[f"답변_{j}"] for j in range(1, N_ANSWERS + 1)),
            category=r.values["category"],
        )
        for r in table.records
    ]


def read_test(path: Path | str) -> list[DaconTestQuestion]:
    """Validated test questions in file order."""
    table = read_csv(path, "CSV")
    hint = ""
    if set(TRAIN_COLUMNS) & set(table.columns) - {"id"}:
        hint = "This looks like a train file: pass it as TRAIN, not with --test."
    check_columns(table.path, table.columns, TEST_COLUMNS, hint)
    _require_cells(table)
    return [DaconTestQuestion(r.values["id"], r.values["질문"]) for r in table.records]


# --------------------------------------------------------------------------- importing


def _source(session: Session, name: str) -> Source:
    from db.sources import ensure_source

    sid = ensure_source(session, name, "dataset", DACON_URL if name == SOURCE else None)
    return session.get_one(Source, sid)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def import_items(
    session: Session,
    items: list[DaconItem],
    tests: list[DaconTestQuestion],
    source: str = SOURCE,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Insert what is new (bulk INSERTs) in the caller's transaction; existing keys are left alone."""
    from db.review import add_initial_reviews

    summary = summary or ImportSummary(source=source)
    summary.train_rows, summary.test_rows = len(items), len(tests)
    src = _source(session, source)
    prefix = f"{source}:"
    existing = {
        key: (q, a, c)
        for key, q, a, c in session.execute(
            select(QAPair.key, QAPair.question_text, QAPair.answer_text, QAPair.category).where(
                QAPair.origin == Origin.dacon, QAPair.key.startswith(prefix, autoescape=True)
            )
        )
    }
    rows, new_groups = [], set()
    for item in items:
        gid = group_id(source, item.id)
        for qi, q in enumerate(item.questions, 1):
            for aj, a in enumerate(item.answers, 1):
                key = pair_key(source, item.id, qi, aj)
                if key in existing:
                    summary.pairs_existing += 1
                    summary.pairs_differ += existing[key] != (q, a, item.category)
                    continue
                new_groups.add(gid)
                rows.append(
                    dict(
                        key=key,
                        question_text=q,
                        answer_text=a,
                        category=item.category,
                        origin=Origin.dacon,
                        group_id=gid,
                        split=None,
                    )
                )
    if rows:
        ids = session.scalars(insert(QAPair).returning(QAPair.id, sort_by_parameter_order=True), rows).all()
        add_initial_reviews(session, ids, ReviewStatus.approved, actor=REVIEWER)
    summary.pairs_added = len(rows)
    existing_groups = {key.rsplit(":", 2)[0] for key in existing}
    summary.groups_added = len(new_groups - existing_groups)

    known = {
        ext: body
        for ext, body in session.execute(
            select(Question.external_id, Question.body).where(Question.source_id == src.id)
        )
    }
    qrows = []
    for order, t in enumerate(tests):
        if t.id in known:
            summary.test_existing += 1
            summary.test_differ += known[t.id] != t.question
            continue
        qrows.append(
            dict(
                source_id=src.id,
                external_id=t.id,
                body=t.question,
                split=Split.test,
                content_hash=_sha(t.question),
                raw={"id": t.id, "질문": t.question, "order": order},
            )
        )
    if qrows:
        session.execute(insert(Question), qrows)
    summary.test_added = len(qrows)
    return summary


def import_dacon(
    train_path: Path | str | None = None,
    test_path: Path | str | None = None,
    url: str | None = None,
    source: str = SOURCE,
) -> ImportSummary:
    """Read and validate both files, then import them in one transaction. Idempotent."""
    from db.migrate import ensure_schema
    from db.session import session_scope

    if train_path is None and test_path is None:
        raise InputError("nothing to import: give a TRAIN.csv, --test TEST.csv, or --sample")
    t0 = time.perf_counter()
    items = read_train(train_path) if train_path is not None else []
    tests = read_test(test_path) if test_path is not None else []
    ensure_schema(url)
    summary = ImportSummary(source=source)
    try:
        with session_scope(url) as session:
            import_items(session, items, tests, source=source, summary=summary)
    except IntegrityError as exc:
        raise DobaeError(
            "another import of the same rows finished first (unique key clash); nothing was written by this "
            "one: run the command again, it will skip what is already there"
        ) from exc
    summary.seconds = time.perf_counter() - t0
    return summary


def import_sample(url: str | None = None) -> ImportSummary:
    """The small DACON-format sample shipped with the project (source `dacon-sample`)."""
    return import_dacon(SAMPLE_TRAIN, SAMPLE_TEST, url=url, source=SAMPLE_SOURCE)


# --------------------------------------------------------------------------- loading back


def load_dacon_items(session: Session, source: str | None = None) -> list[DaconItem]:
    """The imported train rows, rebuilt from their pairs (current, possibly review-corrected texts).

    `source`: "dacon" or "dacon-sample"; None: every DACON-format source. Items come in import
    order. Question k is taken from pair (qk, a1) and answer j from pair (q1, aj).
    """
    q = select(QAPair.id, QAPair.key, QAPair.question_text, QAPair.answer_text, QAPair.category).where(
        QAPair.origin == Origin.dacon
    )
    if source is not None:
        q = q.where(QAPair.key.startswith(f"{source}:", autoescape=True))
    groups: dict[tuple[str, str], dict] = {}
    for _pid, key, qt, at, cat in session.execute(q.order_by(QAPair.id)):
        try:
            src, item_id, qpart, apart = key.rsplit(":", 3)
            qi, aj = int(qpart[1:]), int(apart[1:])
        except ValueError:
            continue  # a dacon-origin pair not made by this importer (e.g. added by hand)
        g = groups.setdefault((src, item_id), {"q": {}, "a": {}, "category": cat})
        if aj == 1:
            g["q"][qi] = qt
        if qi == 1:
            g["a"][aj] = at
    items = []
    for (src, item_id), g in groups.items():
        if sorted(g["q"]) != list(range(1, N_QUESTIONS + 1)) or sorted(g["a"]) != list(
            range(1, N_ANSWERS + 1)
        ):
            raise DobaeError(f"DACON item {src}:{item_id} is incomplete in the database; import it again")
        items.append(
            DaconItem(
                item_id,
                tuple(g["q"][i] for i in sorted(g["q"])),
                tuple(g["a"][j] for j in sorted(g["a"])),
                g["category"] or "",
            )
        )
    return items


def load_dacon_test(session: Session, source: str | None = None) -> list[DaconTestQuestion]:
    """The imported test questions in file order (per source: "dacon" first, then "dacon-sample")."""
    q = (
        select(Source.name, Question.external_id, Question.body, Question.raw)
        .join(Source, Source.id == Question.source_id)
        .where(Question.split == Split.test, Source.name.in_([source] if source else [SOURCE, SAMPLE_SOURCE]))
    )
    rows = sorted(session.execute(q), key=lambda r: (r[0] != SOURCE, (r[3] or {}).get("order", 0), r[1]))
    return [DaconTestQuestion(ext, body or "") for _src, ext, body, _raw in rows]


def count_dacon(session: Session, source: str | None = None) -> tuple[int, int, int]:
    """(pairs, groups, test questions) of a DACON-format source (or all of them)."""
    pq = select(func.count(), func.count(func.distinct(QAPair.group_id))).where(QAPair.origin == Origin.dacon)
    if source is not None:
        pq = pq.where(QAPair.key.startswith(f"{source}:", autoescape=True))
    pairs, groups = session.execute(pq).one()
    tq = (
        select(func.count())
        .select_from(Question)
        .join(Source, Source.id == Question.source_id)
        .where(Question.split == Split.test, Source.name.in_([source] if source else [SOURCE, SAMPLE_SOURCE]))
    )
    return pairs, groups, session.scalar(tq) or 0
