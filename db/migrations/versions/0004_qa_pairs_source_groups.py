"""qa_pairs.source_groups: every group a derived pair was built from

A compound pair joins pairs of two groups and a seeded pair is grounded on several; `group_id`
holds only the first. Grouped splits (training validation, cross-validation folds) need them all.
Existing augmented pairs are filled in from their generation's params (`partner_group` of a
compound, `source_pair_ids` of a seeded pair).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import DROP_REVIEW_QUEUE, REVIEW_QUEUE_V2

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_pairs = sa.table(
    "qa_pairs",
    sa.column("id", sa.Integer),
    sa.column("group_id", sa.String),
    sa.column("generation_id", sa.Integer),
    sa.column("source_groups", sa.JSON),
)
_gens = sa.table("generations", sa.column("id", sa.Integer), sa.column("params", sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table("qa_pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_groups", sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_pairs.c.id, _pairs.c.group_id, _gens.c.params).join(
            _gens, _gens.c.id == _pairs.c.generation_id
        )
    ).all()
    group_of: dict[int, str] | None = None
    for pid, group, params in rows:
        params = params or {}
        extra: list[str] = []
        if params.get("partner_group"):
            extra.append(str(params["partner_group"]))
        if params.get("source_pair_ids"):
            if group_of is None:
                group_of = dict(conn.execute(sa.select(_pairs.c.id, _pairs.c.group_id)).all())
            extra += [group_of[i] for i in params["source_pair_ids"] if i in group_of]
        groups = list(dict.fromkeys([group, *extra]))
        if len(groups) > 1:
            conn.execute(sa.update(_pairs).where(_pairs.c.id == pid).values(source_groups=groups))


def downgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)  # SQLite rebuilds qa_pairs to drop a column; the view must go first
    with op.batch_alter_table("qa_pairs", schema=None) as batch_op:
        batch_op.drop_column("source_groups")
    op.execute(REVIEW_QUEUE_V2)
