"""questions.comments_incomplete: stored with fewer comments than the page stated

A question page can say it has more comments than it renders (the rest behind a JSON call or a
button); when no comment endpoint answers, the crawler stores what the page shows and marks the
question here instead of dropping it.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("comments_incomplete", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("comments_incomplete")
