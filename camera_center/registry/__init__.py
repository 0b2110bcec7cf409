"""Camera registry: areas, cameras, CSV import/export, change events."""
