"""The plugin's Alembic branch ``hello``."""
