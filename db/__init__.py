"""Database: SQLAlchemy models, sessions and Alembic migrations (alembic.ini at the repository root)."""
