"""ingestflow: file-ingestion pipeline with a per-file ledger."""

__version__ = "0.1.0"
