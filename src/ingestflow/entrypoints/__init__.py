"""Entry points: thin adapters from the outside world to services."""
