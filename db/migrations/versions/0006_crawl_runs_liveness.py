"""crawl_runs: pid, host, heartbeat and error of a run; augment_jobs: pid, host

A crawl or augmentation killed with SIGKILL never writes its final status: `pid`/`host` (checked
when the row is read on the same machine) and, for crawls, `heartbeat_at` (written every few
seconds while it runs) show it as `interrupted`. `error` holds why a crawl failed (no page
fetched, errors and no item, …).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("augment_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("augment_jobs", schema=None) as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("pid")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("host")
        batch_op.drop_column("pid")
