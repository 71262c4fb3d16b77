"""The core's Alembic environment and its branch ``community365``."""
