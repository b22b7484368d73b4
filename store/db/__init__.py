"""Persistence: table definitions, the engine and units of work, migrations."""
