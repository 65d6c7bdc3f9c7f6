"""StatusStore adapters."""
