"""Engine adapters: where a batch runs."""
