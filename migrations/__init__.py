"""Alembic revisions for pullgate's metadata database; run them through :mod:`db.migrate`."""
