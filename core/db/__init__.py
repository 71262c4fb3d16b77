"""Storage: the engine, the core tables and the Alembic branches."""
