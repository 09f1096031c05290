"""reviews.text_sha256 and review_events.text_sha256: a verdict holds for the exact text judged

A review's verdict (the machine's curation, a person's approval) now records the sha256 of the
question and answer text it was given on; `dobae review approve` and the approved export use a
verdict only while the pair's text still has that hash. Verdicts given before this revision are
taken to cover the text stored at upgrade time (there is no record of an older text), so an
upgraded database exports the same approved pairs as before.

Revision ID: 0008
Revises: 0007
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import DROP_REVIEW_QUEUE, REVIEW_QUEUE_V2

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text_hash(question: str, answer: str) -> str:
    """Frozen copy of `db.review.text_hash` as of this revision (a migration never imports code
    that may change later)."""
    return hashlib.sha256(json.dumps([question, answer], ensure_ascii=False).encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_sha256", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT r.pair_id, p.question_text, p.answer_text FROM reviews r "
            "JOIN qa_pairs p ON p.id = r.pair_id WHERE r.status <> 'pending' ORDER BY r.pair_id"
        )
    ).all()
    update = sa.text("UPDATE reviews SET text_sha256 = :h WHERE pair_id = :id")
    for start in range(0, len(rows), 1000):
        conn.execute(update, [{"id": pid, "h": _text_hash(q, a)} for pid, q, a in rows[start : start + 1000]])


def downgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)  # SQLite rebuilds `reviews` to drop a column; the view reads it
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_column("text_sha256")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("text_sha256")
    op.execute(REVIEW_QUEUE_V2)
