"""review_queue: add key, split and note

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

from db.views import DROP_REVIEW_QUEUE, REVIEW_QUEUE_V1, REVIEW_QUEUE_V2

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)
    op.execute(REVIEW_QUEUE_V2)


def downgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)
    op.execute(REVIEW_QUEUE_V1)
