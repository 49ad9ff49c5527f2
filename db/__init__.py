"""pullgate's metadata database: one SQLAlchemy metadata, async sessions, queries."""
