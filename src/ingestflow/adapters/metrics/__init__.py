"""Metrics sinks: Datadog API, DogStatsD, Prometheus, JSON lines."""
