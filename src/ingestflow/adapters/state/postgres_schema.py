"""DDL of the PostgreSQL ledger: the SQLite ledger's tables (sqlite_schema) in PostgreSQL types.

Text that is compared or ordered (bucket, key, workflow, prefix) is `COLLATE "C"`: keys order
by code point whatever the database's locale, as on SQLite and in Python, and a key-prefix
range (`key >= p AND key < p || U+10FFFF`) is exact. Partial indexes keep
every status/age query on an index range (see postgres_reads / postgres_batches for the query
each serves):

- `workflow_status_todo` (workflow, upload_time, id) WHERE TODO: claim (oldest first, ties in
  registration order, as on SQLite), backlog, stale, files;
- `workflow_status_todo_folder` (workflow, bucket, prefix, upload_time, id) WHERE TODO: markers.
  Only workflows with a `ready_marker` need it: it is created (FOLDER_INDEX) by sync_workflows
  or a claim of such a workflow, so other ledgers do not pay for it on every register and claim;
- `workflow_status_running` (batch_id) WHERE PROCESSING: renew, finish, release, reap (a
  batch's files), files and arrivals of PROCESSING files (a full scan of this small index);
- `workflow_status_done` / `_failed` (upload_time, key): files pages, retry, arrivals;
- `transitions_by_file` (file_id, id): history; `transitions_ended`: ended files by time;
- `batches_expiring` (lease_until) WHERE RUNNING: reap finds expired leases through the running
  batches (a file's lease is its batch's: claim and renew set both).

Transition images are JSON arrays of the record's 15 values in RECORD_FIELDS order (old: NULL
for a new record). `transitions.file_id` is the file's `workflow_status.id` (records are never
deleted).

Schema versions (`ledger_info.schema_version`): 1, the first PostgreSQL ledger. 2: transitions
keyed by file id, no `workflow_status_processing` (reap goes through `batches_expiring`),
`workflow_status_running` on batch_id alone, the folder index created on demand. A ledger with
a newer version is refused; an older one is upgraded (MIGRATIONS) by `ingestflow setup` or
when opened.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# One advisory lock key per purpose (pg_advisory_xact_lock: held until the transaction ends).
DDL_LOCK = 7_100_001  # creating or upgrading the schema
STREAM_LOCK = 7_100_002  # numbering transitions in commit order (see postgres_rows)
ALERTS_LOCK = 7_100_003  # one alert evaluation at a time

DDL = """
CREATE TABLE IF NOT EXISTS ledger_info (name text PRIMARY KEY, value text NOT NULL);

CREATE TABLE IF NOT EXISTS workflow_status (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket       text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    workflow     text COLLATE "C" NOT NULL,
    prefix       text COLLATE "C" NOT NULL,
    size         bigint NOT NULL,
    etag         text NOT NULL,
    upload_time  double precision NOT NULL,
    status       text NOT NULL CHECK (status IN ('TODO', 'PROCESSING', 'DONE', 'FAILED')),
    attempts     integer NOT NULL DEFAULT 0,
    batch_id     text COLLATE "C",
    lease_until  double precision,
    available_at double precision NOT NULL DEFAULT 0,
    start_time   double precision,
    end_time     double precision,
    error        text,
    output       text,
    UNIQUE (bucket, key)
);
CREATE INDEX IF NOT EXISTS workflow_status_todo
    ON workflow_status (workflow, upload_time, id) WHERE status = 'TODO';
CREATE INDEX IF NOT EXISTS workflow_status_running
    ON workflow_status (batch_id) WHERE status = 'PROCESSING';
CREATE INDEX IF NOT EXISTS workflow_status_done
    ON workflow_status (upload_time, key) WHERE status = 'DONE';
CREATE INDEX IF NOT EXISTS workflow_status_failed
    ON workflow_status (upload_time, key) WHERE status = 'FAILED';

CREATE TABLE IF NOT EXISTS status_counts (
    workflow text COLLATE "C" NOT NULL,
    status   text NOT NULL,
    files    bigint NOT NULL,
    bytes    bigint NOT NULL,
    PRIMARY KEY (workflow, status)
);

CREATE TABLE IF NOT EXISTS workflow_metadata (
    name            text PRIMARY KEY,
    prefix          text NOT NULL,
    transform       text NOT NULL,
    batch_size      integer NOT NULL,
    max_wait        double precision NOT NULL,
    max_batch_files integer NOT NULL,
    max_batch_bytes bigint NOT NULL,
    max_attempts    integer NOT NULL,
    lease           double precision NOT NULL,
    retry_backoff   double precision NOT NULL,
    stale_after     double precision NOT NULL,
    include         text NOT NULL,
    options         text NOT NULL,
    updated_at      double precision NOT NULL
);

CREATE TABLE IF NOT EXISTS transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id     bigint NOT NULL,
    bucket      text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    workflow    text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    at          double precision NOT NULL,
    reason      text NOT NULL,
    old_image   text,
    new_image   text NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_file ON transitions (file_id, id);
CREATE INDEX IF NOT EXISTS transitions_ended ON transitions (at, id)
    WHERE to_status IN ('DONE', 'FAILED');

CREATE TABLE IF NOT EXISTS batches (
    batch_id    text PRIMARY KEY,
    workflow    text NOT NULL,
    owner       text NOT NULL,
    created_at  double precision NOT NULL,
    lease_until double precision NOT NULL,
    state       text NOT NULL CHECK (state IN ('RUNNING', 'FINISHED', 'RELEASED', 'EXPIRED'))
);
CREATE INDEX IF NOT EXISTS batches_expiring ON batches (lease_until) WHERE state = 'RUNNING';

CREATE TABLE IF NOT EXISTS unrouted (
    key     text COLLATE "C" PRIMARY KEY,
    size    bigint NOT NULL,
    seen_at double precision NOT NULL,
    reason  text NOT NULL
);

CREATE TABLE IF NOT EXISTS markers (
    workflow text COLLATE "C" NOT NULL,
    bucket   text COLLATE "C" NOT NULL,
    prefix   text COLLATE "C" NOT NULL,
    PRIMARY KEY (workflow, bucket, prefix)
);
CREATE INDEX IF NOT EXISTS markers_by_bucket ON markers (bucket);

CREATE TABLE IF NOT EXISTS metric_sinks (
    sink         text PRIMARY KEY,
    position     bigint NOT NULL DEFAULT 0,
    in_flight    bigint,
    owner        text,
    lease_until  double precision,
    last_error   text,
    last_success double precision,
    dropped      bigint NOT NULL DEFAULT 0,
    updated_at   double precision NOT NULL
);

CREATE TABLE IF NOT EXISTS metric_totals (
    sink   text NOT NULL,
    series text NOT NULL,
    value  double precision NOT NULL,
    PRIMARY KEY (sink, series)
);

CREATE TABLE IF NOT EXISTS alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        text NOT NULL,
    workflow    text NOT NULL,
    grp         text NOT NULL,
    state       text NOT NULL CHECK (state IN ('firing', 'resolved')),
    since       double precision NOT NULL,
    resolved_at double precision,
    summary     text NOT NULL,
    items       text NOT NULL,
    count       integer NOT NULL,
    reminders   integer NOT NULL DEFAULT 0,
    next_remind double precision,
    updated_at  double precision NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (rule, workflow, grp)
    WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS alerts_resolved ON alerts (resolved_at) WHERE state = 'resolved';

CREATE TABLE IF NOT EXISTS alert_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     bigint NOT NULL REFERENCES alerts (id),
    notifier     text NOT NULL,
    event        text NOT NULL CHECK (event IN ('firing', 'reminder', 'resolved')),
    seq          integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    next_attempt double precision,
    lease_until  double precision,
    last_error   text,
    sent_at      double precision,
    created_at   double precision NOT NULL,
    UNIQUE (alert_id, notifier, event, seq)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (notifier, id)
    WHERE status IN ('pending', 'failed', 'sending');
"""

# The ledger's NOTIFY channel (postgres_wakeup): one per database and schema.
CHANNEL_SQL = "SELECT 'ingestflow_' || left(md5(current_database() || '.' || current_schema()), 16)"

FOLDER_INDEX = "workflow_status_todo_folder"
CREATE_FOLDER_INDEX = f"""
CREATE INDEX IF NOT EXISTS {FOLDER_INDEX}
    ON workflow_status (workflow, bucket, prefix, upload_time, id) WHERE status = 'TODO'
"""

# Upgrades: MIGRATIONS[v] takes a ledger from version v - 1 to v (one transaction, under
# DDL_LOCK, with the version written at the end).
MIGRATIONS: dict[int, str] = {
    2: """
ALTER TABLE transitions ADD COLUMN file_id bigint;
UPDATE transitions AS t SET file_id = ws.id FROM workflow_status AS ws
    WHERE ws.bucket = t.bucket AND ws.key = t.key;
ALTER TABLE transitions ALTER COLUMN file_id SET NOT NULL;
CREATE INDEX transitions_by_file ON transitions (file_id, id);
DROP INDEX transitions_by_key;
DROP INDEX workflow_status_processing;
DROP INDEX workflow_status_running;
CREATE INDEX workflow_status_running ON workflow_status (batch_id) WHERE status = 'PROCESSING';
DROP INDEX batches_running;
CREATE INDEX batches_expiring ON batches (lease_until) WHERE state = 'RUNNING';
DROP INDEX IF EXISTS workflow_status_todo_folder;
""",
}
