-- A PostgreSQL ledger written by schema version 1 (the first PostgreSQL release), made with
-- that release's PostgresStatusStore and dumped with pg_dump --inserts (owner, privileges,
-- psql meta-commands and the schema name taken out: it loads into the search_path's schema).
-- Workflow ohlcv (batch_size 2, max_batch_files 2, lease 60 s), 6 files registered at
-- T + 10 (T = 1780000000, upload times T + i): batch 1 claimed at T + 20, ohlcv/d/0.csv DONE and
-- ohlcv/d/1.csv FAILED at T + 30; batch 2 (ohlcv/d/2.csv, 3.csv) claimed at T + 40 by
-- host-b:2 and still RUNNING (lease until T + 100); ohlcv/d/4.csv and 5.csv TODO.
CREATE TABLE alert_deliveries (
    id bigint NOT NULL,
    alert_id bigint NOT NULL,
    notifier text NOT NULL,
    event text NOT NULL,
    seq integer NOT NULL,
    status text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt double precision,
    lease_until double precision,
    last_error text,
    sent_at double precision,
    created_at double precision NOT NULL,
    CONSTRAINT alert_deliveries_event_check CHECK ((event = ANY (ARRAY['firing'::text, 'reminder'::text, 'resolved'::text]))),
    CONSTRAINT alert_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'failed'::text])))
);
ALTER TABLE alert_deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME alert_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE alerts (
    id bigint NOT NULL,
    rule text NOT NULL,
    workflow text NOT NULL,
    grp text NOT NULL,
    state text NOT NULL,
    since double precision NOT NULL,
    resolved_at double precision,
    summary text NOT NULL,
    items text NOT NULL,
    count integer NOT NULL,
    reminders integer DEFAULT 0 NOT NULL,
    next_remind double precision,
    updated_at double precision NOT NULL,
    CONSTRAINT alerts_state_check CHECK ((state = ANY (ARRAY['firing'::text, 'resolved'::text])))
);
ALTER TABLE alerts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE batches (
    batch_id text NOT NULL,
    workflow text NOT NULL,
    owner text NOT NULL,
    created_at double precision NOT NULL,
    lease_until double precision NOT NULL,
    state text NOT NULL,
    CONSTRAINT batches_state_check CHECK ((state = ANY (ARRAY['RUNNING'::text, 'FINISHED'::text, 'RELEASED'::text, 'EXPIRED'::text])))
);
CREATE TABLE ledger_info (
    name text NOT NULL,
    value text NOT NULL
);
CREATE TABLE markers (
    workflow text NOT NULL COLLATE pg_catalog."C",
    bucket text NOT NULL COLLATE pg_catalog."C",
    prefix text NOT NULL COLLATE pg_catalog."C"
);
CREATE TABLE metric_sinks (
    sink text NOT NULL,
    "position" bigint DEFAULT 0 NOT NULL,
    in_flight bigint,
    owner text,
    lease_until double precision,
    last_error text,
    last_success double precision,
    dropped bigint DEFAULT 0 NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE metric_totals (
    sink text NOT NULL,
    series text NOT NULL,
    value double precision NOT NULL
);
CREATE TABLE status_counts (
    workflow text NOT NULL COLLATE pg_catalog."C",
    status text NOT NULL,
    files bigint NOT NULL,
    bytes bigint NOT NULL
);
CREATE TABLE transitions (
    id bigint NOT NULL,
    bucket text NOT NULL COLLATE pg_catalog."C",
    key text NOT NULL COLLATE pg_catalog."C",
    workflow text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    at double precision NOT NULL,
    reason text NOT NULL,
    old_image text,
    new_image text NOT NULL
);
ALTER TABLE transitions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME transitions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE unrouted (
    key text NOT NULL COLLATE pg_catalog."C",
    size bigint NOT NULL,
    seen_at double precision NOT NULL,
    reason text NOT NULL
);
CREATE TABLE workflow_metadata (
    name text NOT NULL,
    prefix text NOT NULL,
    transform text NOT NULL,
    batch_size integer NOT NULL,
    max_wait double precision NOT NULL,
    max_batch_files integer NOT NULL,
    max_batch_bytes bigint NOT NULL,
    max_attempts integer NOT NULL,
    lease double precision NOT NULL,
    retry_backoff double precision NOT NULL,
    stale_after double precision NOT NULL,
    include text NOT NULL,
    options text NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE workflow_status (
    id bigint NOT NULL,
    bucket text NOT NULL COLLATE pg_catalog."C",
    key text NOT NULL COLLATE pg_catalog."C",
    workflow text NOT NULL COLLATE pg_catalog."C",
    prefix text NOT NULL COLLATE pg_catalog."C",
    size bigint NOT NULL,
    etag text NOT NULL,
    upload_time double precision NOT NULL,
    status text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    batch_id text COLLATE pg_catalog."C",
    lease_until double precision,
    available_at double precision DEFAULT 0 NOT NULL,
    start_time double precision,
    end_time double precision,
    error text,
    output text,
    CONSTRAINT workflow_status_status_check CHECK ((status = ANY (ARRAY['TODO'::text, 'PROCESSING'::text, 'DONE'::text, 'FAILED'::text])))
);
ALTER TABLE workflow_status ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME workflow_status_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
INSERT INTO batches VALUES ('70bd7e3d9009428a8ba414349074cbff', 'ohlcv', 'host-a:1', 1780000020, 1780000080, 'FINISHED');
INSERT INTO batches VALUES ('2996f8b323bc4001b0c1c93b9a6cb229', 'ohlcv', 'host-b:2', 1780000040, 1780000100, 'RUNNING');
INSERT INTO ledger_info VALUES ('schema_version', '1');
INSERT INTO status_counts VALUES ('ohlcv', 'DONE', 1, 10);
INSERT INTO status_counts VALUES ('ohlcv', 'FAILED', 1, 11);
INSERT INTO status_counts VALUES ('ohlcv', 'PROCESSING', 2, 25);
INSERT INTO status_counts VALUES ('ohlcv', 'TODO', 2, 29);
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (1, 'landing', 'ohlcv/d/0.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/0.csv", "ohlcv", "ohlcv/d/", 10, "e0", 1780000000, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (2, 'landing', 'ohlcv/d/1.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/1.csv", "ohlcv", "ohlcv/d/", 11, "e1", 1780000001, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (3, 'landing', 'ohlcv/d/2.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/2.csv", "ohlcv", "ohlcv/d/", 12, "e2", 1780000002, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (4, 'landing', 'ohlcv/d/3.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/3.csv", "ohlcv", "ohlcv/d/", 13, "e3", 1780000003, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (5, 'landing', 'ohlcv/d/4.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/4.csv", "ohlcv", "ohlcv/d/", 14, "e4", 1780000004, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (6, 'landing', 'ohlcv/d/5.csv', 'ohlcv', NULL, 'TODO', 1780000010, 'registered', NULL, '["landing", "ohlcv/d/5.csv", "ohlcv", "ohlcv/d/", 15, "e5", 1780000005, "TODO", 0, null, null, null, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (7, 'landing', 'ohlcv/d/0.csv', 'ohlcv', 'TODO', 'PROCESSING', 1780000020, 'claimed', '["landing", "ohlcv/d/0.csv", "ohlcv", "ohlcv/d/", 10, "e0", 1780000000, "TODO", 0, null, null, null, null, null, null]', '["landing", "ohlcv/d/0.csv", "ohlcv", "ohlcv/d/", 10, "e0", 1780000000, "PROCESSING", 1, "70bd7e3d9009428a8ba414349074cbff", 1780000080, 1780000020, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (8, 'landing', 'ohlcv/d/1.csv', 'ohlcv', 'TODO', 'PROCESSING', 1780000020, 'claimed', '["landing", "ohlcv/d/1.csv", "ohlcv", "ohlcv/d/", 11, "e1", 1780000001, "TODO", 0, null, null, null, null, null, null]', '["landing", "ohlcv/d/1.csv", "ohlcv", "ohlcv/d/", 11, "e1", 1780000001, "PROCESSING", 1, "70bd7e3d9009428a8ba414349074cbff", 1780000080, 1780000020, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (9, 'landing', 'ohlcv/d/0.csv', 'ohlcv', 'PROCESSING', 'DONE', 1780000030, 'processed', '["landing", "ohlcv/d/0.csv", "ohlcv", "ohlcv/d/", 10, "e0", 1780000000.0, "PROCESSING", 1, "70bd7e3d9009428a8ba414349074cbff", 1780000080.0, 1780000020.0, null, null, null]', '["landing", "ohlcv/d/0.csv", "ohlcv", "ohlcv/d/", 10, "e0", 1780000000.0, "DONE", 1, "70bd7e3d9009428a8ba414349074cbff", null, 1780000020.0, 1780000030.0, null, "out0"]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (10, 'landing', 'ohlcv/d/1.csv', 'ohlcv', 'PROCESSING', 'FAILED', 1780000030, 'failed', '["landing", "ohlcv/d/1.csv", "ohlcv", "ohlcv/d/", 11, "e1", 1780000001.0, "PROCESSING", 1, "70bd7e3d9009428a8ba414349074cbff", 1780000080.0, 1780000020.0, null, null, null]', '["landing", "ohlcv/d/1.csv", "ohlcv", "ohlcv/d/", 11, "e1", 1780000001.0, "FAILED", 1, "70bd7e3d9009428a8ba414349074cbff", null, 1780000020.0, 1780000030.0, "column ''x'', row 2: bad", null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (11, 'landing', 'ohlcv/d/2.csv', 'ohlcv', 'TODO', 'PROCESSING', 1780000040, 'claimed', '["landing", "ohlcv/d/2.csv", "ohlcv", "ohlcv/d/", 12, "e2", 1780000002, "TODO", 0, null, null, null, null, null, null]', '["landing", "ohlcv/d/2.csv", "ohlcv", "ohlcv/d/", 12, "e2", 1780000002, "PROCESSING", 1, "2996f8b323bc4001b0c1c93b9a6cb229", 1780000100, 1780000040, null, null, null]');
INSERT INTO transitions OVERRIDING SYSTEM VALUE VALUES (12, 'landing', 'ohlcv/d/3.csv', 'ohlcv', 'TODO', 'PROCESSING', 1780000040, 'claimed', '["landing", "ohlcv/d/3.csv", "ohlcv", "ohlcv/d/", 13, "e3", 1780000003, "TODO", 0, null, null, null, null, null, null]', '["landing", "ohlcv/d/3.csv", "ohlcv", "ohlcv/d/", 13, "e3", 1780000003, "PROCESSING", 1, "2996f8b323bc4001b0c1c93b9a6cb229", 1780000100, 1780000040, null, null, null]');
INSERT INTO workflow_metadata VALUES ('ohlcv', 'ohlcv/', 'ohlcv', 2, 0, 2, 2147483648, 3, 60, 5, 18000, '["*.csv", "*.csv.gz"]', '{}', 1796230645.7508414);
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (5, 'landing', 'ohlcv/d/4.csv', 'ohlcv', 'ohlcv/d/', 14, 'e4', 1780000004, 'TODO', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL);
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (6, 'landing', 'ohlcv/d/5.csv', 'ohlcv', 'ohlcv/d/', 15, 'e5', 1780000005, 'TODO', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL);
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (1, 'landing', 'ohlcv/d/0.csv', 'ohlcv', 'ohlcv/d/', 10, 'e0', 1780000000, 'DONE', 1, '70bd7e3d9009428a8ba414349074cbff', NULL, 0, 1780000020, 1780000030, NULL, 'out0');
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (2, 'landing', 'ohlcv/d/1.csv', 'ohlcv', 'ohlcv/d/', 11, 'e1', 1780000001, 'FAILED', 1, '70bd7e3d9009428a8ba414349074cbff', NULL, 0, 1780000020, 1780000030, 'column ''x'', row 2: bad', NULL);
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (3, 'landing', 'ohlcv/d/2.csv', 'ohlcv', 'ohlcv/d/', 12, 'e2', 1780000002, 'PROCESSING', 1, '2996f8b323bc4001b0c1c93b9a6cb229', 1780000100, 0, 1780000040, NULL, NULL, NULL);
INSERT INTO workflow_status OVERRIDING SYSTEM VALUE VALUES (4, 'landing', 'ohlcv/d/3.csv', 'ohlcv', 'ohlcv/d/', 13, 'e3', 1780000003, 'PROCESSING', 1, '2996f8b323bc4001b0c1c93b9a6cb229', 1780000100, 0, 1780000040, NULL, NULL, NULL);
SELECT pg_catalog.setval('alert_deliveries_id_seq', 1, false);
SELECT pg_catalog.setval('alerts_id_seq', 1, false);
SELECT pg_catalog.setval('transitions_id_seq', 12, true);
SELECT pg_catalog.setval('workflow_status_id_seq', 6, true);
ALTER TABLE ONLY alert_deliveries
    ADD CONSTRAINT alert_deliveries_alert_id_notifier_event_seq_key UNIQUE (alert_id, notifier, event, seq);
ALTER TABLE ONLY alert_deliveries
    ADD CONSTRAINT alert_deliveries_pkey PRIMARY KEY (id);
ALTER TABLE ONLY alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY batches
    ADD CONSTRAINT batches_pkey PRIMARY KEY (batch_id);
ALTER TABLE ONLY ledger_info
    ADD CONSTRAINT ledger_info_pkey PRIMARY KEY (name);
ALTER TABLE ONLY markers
    ADD CONSTRAINT markers_pkey PRIMARY KEY (workflow, bucket, prefix);
ALTER TABLE ONLY metric_sinks
    ADD CONSTRAINT metric_sinks_pkey PRIMARY KEY (sink);
ALTER TABLE ONLY metric_totals
    ADD CONSTRAINT metric_totals_pkey PRIMARY KEY (sink, series);
ALTER TABLE ONLY status_counts
    ADD CONSTRAINT status_counts_pkey PRIMARY KEY (workflow, status);
ALTER TABLE ONLY transitions
    ADD CONSTRAINT transitions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY unrouted
    ADD CONSTRAINT unrouted_pkey PRIMARY KEY (key);
ALTER TABLE ONLY workflow_metadata
    ADD CONSTRAINT workflow_metadata_pkey PRIMARY KEY (name);
ALTER TABLE ONLY workflow_status
    ADD CONSTRAINT workflow_status_bucket_key_key UNIQUE (bucket, key);
ALTER TABLE ONLY workflow_status
    ADD CONSTRAINT workflow_status_pkey PRIMARY KEY (id);
CREATE INDEX alert_deliveries_due ON alert_deliveries USING btree (notifier, id) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text, 'sending'::text]));
CREATE UNIQUE INDEX alerts_open ON alerts USING btree (rule, workflow, grp) WHERE (state = 'firing'::text);
CREATE INDEX alerts_resolved ON alerts USING btree (resolved_at) WHERE (state = 'resolved'::text);
CREATE INDEX batches_running ON batches USING btree (batch_id) WHERE (state = 'RUNNING'::text);
CREATE INDEX markers_by_bucket ON markers USING btree (bucket);
CREATE INDEX transitions_by_key ON transitions USING btree (bucket, key, id);
CREATE INDEX transitions_ended ON transitions USING btree (at, id) WHERE (to_status = ANY (ARRAY['DONE'::text, 'FAILED'::text]));
CREATE INDEX workflow_status_done ON workflow_status USING btree (upload_time, key) WHERE (status = 'DONE'::text);
CREATE INDEX workflow_status_failed ON workflow_status USING btree (upload_time, key) WHERE (status = 'FAILED'::text);
CREATE INDEX workflow_status_processing ON workflow_status USING btree (lease_until) WHERE (status = 'PROCESSING'::text);
CREATE INDEX workflow_status_running ON workflow_status USING btree (batch_id, key) WHERE (status = 'PROCESSING'::text);
CREATE INDEX workflow_status_todo ON workflow_status USING btree (workflow, upload_time, id) WHERE (status = 'TODO'::text);
CREATE INDEX workflow_status_todo_folder ON workflow_status USING btree (workflow, bucket, prefix, upload_time, id) WHERE (status = 'TODO'::text);
ALTER TABLE ONLY alert_deliveries
    ADD CONSTRAINT alert_deliveries_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES alerts(id);
