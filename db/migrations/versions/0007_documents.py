"""documents, doc_chunks and qa_pairs.chunk_id: reference documents and the pairs grounded on them

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import DROP_REVIEW_QUEUE, REVIEW_QUEUE_V2

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("sha256", name=op.f("uq_documents_sha256")),
    )
    op.create_table(
        "doc_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("end_char", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_doc_chunks_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doc_chunks")),
        sa.UniqueConstraint("document_id", "seq", name=op.f("uq_doc_chunks_document_id_seq")),
    )
    with op.batch_alter_table("doc_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_doc_chunks_document_id"), ["document_id"], unique=False)
    op.execute(DROP_REVIEW_QUEUE)  # SQLite may rebuild qa_pairs to add a foreign key; the view goes first
    with op.batch_alter_table("qa_pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chunk_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_qa_pairs_chunk_id"), ["chunk_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_qa_pairs_chunk_id_doc_chunks"), "doc_chunks", ["chunk_id"], ["id"]
        )
    op.execute(REVIEW_QUEUE_V2)


def downgrade() -> None:
    op.execute(DROP_REVIEW_QUEUE)
    with op.batch_alter_table("qa_pairs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_qa_pairs_chunk_id_doc_chunks"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_qa_pairs_chunk_id"))
        batch_op.drop_column("chunk_id")
    op.execute(REVIEW_QUEUE_V2)
    with op.batch_alter_table("doc_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_doc_chunks_document_id"))
    op.drop_table("doc_chunks")
    op.drop_table("documents")
