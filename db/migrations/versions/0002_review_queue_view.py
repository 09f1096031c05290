"""review_queue view

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

from db.views import DROP_REVIEW_QUEUE, REVIEW_QUEUE_V1

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(REVIEW_QUEUE_V1)


def downgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)
