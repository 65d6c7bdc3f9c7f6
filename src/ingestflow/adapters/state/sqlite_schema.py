"""DDL of the SQLite ledger. Partial indexes keep status/age queries off full-table scans.

Every index on `workflow_status` and `transitions` costs a B-tree write per insert (and per
update of one of its columns), so each one below is there for a query that needs it:

- `workflow_status_todo`: claim, backlog, stale (TODO of one workflow, oldest first);
- `workflow_status_processing`: reap (expired leases);
- `workflow_status_running`: renew, finish, release (a running batch's files, by key; only
  PROCESSING rows, so it stays small and "does the batch still hold files" is one probe);
- `workflow_status_done` / `workflow_status_failed`: `files()` pages in (upload_time, key)
  order with a keyset cursor (one ordered range per status, merged; TODO and PROCESSING rows
  come from the indexes above; ties on upload_time are sorted by key as they are read) and
  `retry --failed`. Partial, so registering a file (TODO) does not touch them: a file enters
  one of them once, when it ends;
- `workflow_status_todo_folder` (created only once a workflow has a `ready_marker`, see
  FOLDER_INDEX): the TODO files of one folder, for completeness markers;
- `transitions_by_key`: history of one file;
- `transitions_ended`: files that ended, by time (metric count buckets, metric windows).

Schema versions (`ledger_info.schema_version`): 1 (no row) the first release; 2 adds the
`markers` table and `workflow_status_done` / `workflow_status_failed` /
`workflow_status_running`, drops `workflow_status_by_status` / `workflow_status_batch_key`
(every status change updated them) and stores compact transition images (see sqlite_rows). A
ledger of version 1 is upgraded in place when opened for writing; readers understand both image
formats. 3 adds the metrics sinks' checkpoints (`metric_sinks`, `metric_totals`), the
`transitions_ended` index, and alert state (`alerts`, `alert_deliveries`).
"""

from __future__ import annotations

from ingestflow.domain.records import RECORD_FIELDS

SCHEMA_VERSION = 3

DDL = """
CREATE TABLE IF NOT EXISTS workflow_status (
    id           INTEGER PRIMARY KEY,
    bucket       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    etag         TEXT    NOT NULL,
    upload_time  REAL    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('TODO', 'PROCESSING', 'DONE', 'FAILED')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    batch_id     TEXT,
    lease_until  REAL,
    available_at REAL    NOT NULL DEFAULT 0,
    start_time   REAL,
    end_time     REAL,
    error        TEXT,
    output       TEXT,
    UNIQUE (bucket, key)
);
CREATE INDEX IF NOT EXISTS workflow_status_todo
    ON workflow_status (workflow, upload_time, available_at) WHERE status = 'TODO';
CREATE INDEX IF NOT EXISTS workflow_status_processing
    ON workflow_status (lease_until) WHERE status = 'PROCESSING';
CREATE INDEX IF NOT EXISTS workflow_status_running
    ON workflow_status (batch_id, key) WHERE status = 'PROCESSING';
DROP INDEX IF EXISTS workflow_status_batch_key;
CREATE INDEX IF NOT EXISTS workflow_status_done
    ON workflow_status (upload_time) WHERE status = 'DONE';
CREATE INDEX IF NOT EXISTS workflow_status_failed
    ON workflow_status (upload_time) WHERE status = 'FAILED';
DROP INDEX IF EXISTS workflow_status_by_status;

-- Files and bytes per (workflow, status), maintained in the same transaction as every change.
CREATE TABLE IF NOT EXISTS status_counts (
    workflow TEXT    NOT NULL,
    status   TEXT    NOT NULL,
    files    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (workflow, status)
);

CREATE TABLE IF NOT EXISTS workflow_metadata (
    name            TEXT PRIMARY KEY,
    prefix          TEXT NOT NULL,
    transform       TEXT NOT NULL,
    batch_size      INTEGER NOT NULL,
    max_wait        REAL NOT NULL,
    max_batch_files INTEGER NOT NULL,
    max_batch_bytes INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    lease           REAL NOT NULL,
    retry_backoff   REAL NOT NULL,
    stale_after     REAL NOT NULL,
    include         TEXT NOT NULL,
    options         TEXT NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS transitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket      TEXT NOT NULL,
    key         TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          REAL NOT NULL,
    reason      TEXT NOT NULL,
    old_image   TEXT,
    new_image   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_key ON transitions (bucket, key, id);

CREATE TABLE IF NOT EXISTS batches (
    batch_id    TEXT PRIMARY KEY,
    workflow    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    lease_until REAL NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('RUNNING', 'FINISHED', 'RELEASED', 'EXPIRED'))
);
CREATE INDEX IF NOT EXISTS batches_running ON batches (state) WHERE state = 'RUNNING';

CREATE TABLE IF NOT EXISTS unrouted (
    key     TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    seen_at REAL NOT NULL,
    reason  TEXT NOT NULL
);

-- Completeness markers present in the landing store: (workflow, bucket, folder prefix). Keyed
-- by workflow first: a claim looks up its workflow's markers (a landing store has one bucket).
CREATE TABLE IF NOT EXISTS markers (
    workflow TEXT NOT NULL,
    bucket   TEXT NOT NULL,
    prefix   TEXT NOT NULL,
    PRIMARY KEY (workflow, bucket, prefix)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ledger_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Files that ended (DONE or FAILED) by time: metric count buckets and `ingestflow metrics`
-- windows. Partial: the other transitions (registered, claimed, ...) do not pay for it.
CREATE INDEX IF NOT EXISTS transitions_ended ON transitions (at)
    WHERE to_status IN ('DONE', 'FAILED');

-- Each metrics sink's checkpoint in the change stream (domain.metrics.SinkState).
CREATE TABLE IF NOT EXISTS metric_sinks (
    sink         TEXT PRIMARY KEY,
    position     INTEGER NOT NULL DEFAULT 0,
    in_flight    INTEGER,
    owner        TEXT,
    lease_until  REAL,
    last_error   TEXT,
    last_success REAL,
    dropped      INTEGER NOT NULL DEFAULT 0,
    updated_at   REAL NOT NULL
);

-- Alerts: one row per problem (rule, workflow, grp), firing then resolved. At most one firing
-- row per problem (the partial unique index), so concurrent evaluations cannot open it twice.
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    grp         TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    since       REAL NOT NULL,
    resolved_at REAL,
    summary     TEXT NOT NULL,
    items       TEXT NOT NULL,
    count       INTEGER NOT NULL,
    reminders   INTEGER NOT NULL DEFAULT 0,
    next_remind REAL,
    updated_at  REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (rule, workflow, grp)
    WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS alerts_recent ON alerts (updated_at);

-- Each notification of an alert to a notifier: created with the state change that causes it
-- (in the same transaction), then taken by one sender, sent, or retried after a failure.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id           INTEGER PRIMARY KEY,
    alert_id     INTEGER NOT NULL REFERENCES alerts (id),
    notifier     TEXT NOT NULL,
    event        TEXT NOT NULL CHECK (event IN ('firing', 'reminder', 'resolved')),
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    lease_until  REAL,
    last_error   TEXT,
    sent_at      REAL,
    created_at   REAL NOT NULL,
    UNIQUE (alert_id, notifier, event, seq)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (next_attempt)
    WHERE status IN ('pending', 'failed', 'sending');

-- Running totals a sink folds into the ledger with its checkpoint (Prometheus counters).
CREATE TABLE IF NOT EXISTS metric_totals (
    sink   TEXT NOT NULL,
    series TEXT NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (sink, series)
) WITHOUT ROWID;
"""

# Only workflows with a `ready_marker` look files up by folder: ledgers without one do not pay
# for this index on every register and claim. Created by sync_workflows / claim when needed.
FOLDER_INDEX = "workflow_status_todo_folder"
CREATE_FOLDER_INDEX = f"""
CREATE INDEX IF NOT EXISTS {FOLDER_INDEX}
    ON workflow_status (workflow, bucket, prefix, upload_time) WHERE status = 'TODO'
"""

# Rebuilds the counters of a ledger whose counters are missing (e.g. created by an older build).
REBUILD_COUNTS = """
INSERT INTO status_counts (workflow, status, files, bytes)
SELECT workflow, status, count(*), coalesce(sum(size), 0) FROM workflow_status
GROUP BY workflow, status
"""

# The record's columns, in FileRecord field order (also the order of compact images).
RECORD_COLUMNS = ", ".join(RECORD_FIELDS)
