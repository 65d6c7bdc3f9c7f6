"""Use cases. Each takes ports as arguments; none builds an adapter."""
