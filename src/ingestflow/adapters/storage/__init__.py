"""ObjectStore adapters."""
