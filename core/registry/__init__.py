"""The registry: areas, households, persons, tags, handlers and duties."""
