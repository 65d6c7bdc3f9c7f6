"""The config `ingestflow init` writes: commented and working for the embedded default."""

TEMPLATE = """\
# ingestflow configuration (embedded default: local folders, SQLite ledger, DuckDB engine).
# Relative paths resolve against this file's folder. Durations: "500ms", "30s", "10m", "2h"
# (at most "365d"). Sizes: "512MB", "2GB" (powers of 1024, at most 1 PiB).
# Any value can be overridden by an environment variable, e.g. INGESTFLOW_LEDGER__URL or
# INGESTFLOW_WORKFLOWS__OHLCV__BATCH_SIZE=5 (other INGESTFLOW_* variables are ignored with a
# warning); overlays below are chosen with --env / INGESTFLOW_ENV.

# How often the scheduler lists the landing area, reaps expired leases and checks batches
# (at least "10ms").
schedule_interval = "1s"

[landing]
# Drop files here; a file's key is its path relative to this folder (e.g. ohlcv/2024/a.csv).
path = "landing"
# A file is picked up once it has not changed for this long (or when its writer closes it).
settle = "1s"
# Symlinks are ignored (listed as unrouted) unless this is true; even then only links whose
# target is inside this folder are followed.
# follow_symlinks = false
# With file-system events on, the full listing of this folder runs this often.
# reconcile_interval = "1m"

[output]
# One Parquet file per input: <output>/<workflow>/<key>.parquet (never inside the landing folder)
path = "output"
# snappy (fast, Spark's default), zstd (smaller files), gzip, lz4 or none
compression = "snappy"

[ledger]
# sqlite:///absolute/path.db, or sqlite://relative/path.db (relative to this file)
url = "sqlite://.ingestflow/ledger.db"

[[workflows]]
name = "ohlcv"              # also the table name in `ingestflow query`
prefix = "ohlcv/"           # files under this folder (any depth) belong to this workflow
transform = "ohlcv"         # preset: Date/Open/High/Low/Close/Volume -> typed columns
batch_size = 10             # run as soon as this many files wait...
max_wait = "30s"            # ...or when the oldest waiting file is this old
max_attempts = 3            # transient failures are retried up to this many attempts
lease = "5m"                # a claim expires if its batch stops renewing it (crash recovery)
include = ["*.csv", "*.csv.gz"]
# Completeness marker: a folder's files wait until a file of this name lands beside them;
# max_wait still runs them unless marker_required is true.
# ready_marker = "_SUCCESS"
# marker_required = false
# Engine options: timestamp_format, date_format (strptime notation) and delimiter.
# [workflows.options]
# timestamp_format = "%d/%m/%Y %H:%M"

# A declarative transform of your own:
# [[transforms]]
# name = "trades"
# drop = ["comment"]
# [[transforms.columns]]
# source = "Price"
# target = "price"
# type = "double"
# [[transforms.columns]]
# source = "When"
# target = "traded_at"
# type = "timestamp"
# format = "%d/%m/%Y %H:%M:%S"
# [[transforms.derived]]
# name = "notional"
# expr = "price * quantity"
# type = "double"

[env.dev]
schedule_interval = "1s"

[env.prod]
schedule_interval = "5s"
"""
