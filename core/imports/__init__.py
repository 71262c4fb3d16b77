"""Importing a district's existing ledgers (台账) from CSV files, UTF-8 or GBK.

``import_file(district, "persons", Path("居民台账.csv"))`` reads the whole file, checks
every row and writes all of them in one transaction, or none and says which rows are bad.
``ENTITIES`` describes the columns of each importable entity.
"""

from community365.imports.engine import ImportSummary, import_file
from community365.imports.entities import ENTITIES, Entity, get_entity

__all__ = ["ENTITIES", "Entity", "ImportSummary", "get_entity", "import_file"]
