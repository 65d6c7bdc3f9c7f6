"""EventSource adapters."""
