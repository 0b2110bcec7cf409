"""Detection rules per camera: what they are (schemas, table), where they live (store),
and how they fire (engine)."""
