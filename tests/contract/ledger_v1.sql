-- A ledger written by the first release (schema version 1): full JSON transition images,
-- workflow_status_by_status / workflow_status_batch_key indexes, no markers table.
-- Made with that release's SqliteStatusStore, dumped with sqlite3's iterdump().
BEGIN TRANSACTION;
CREATE TABLE batches (
    batch_id    TEXT PRIMARY KEY,
    workflow    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    lease_until REAL NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('RUNNING', 'FINISHED', 'RELEASED', 'EXPIRED'))
);
INSERT INTO "batches" VALUES('09a3bc2924234c75bb718e9dc8315a92','ohlcv','host:1',1700000020.0,1700000320.0,'FINISHED');
INSERT INTO "batches" VALUES('b8bda495aff94a9d9d4693610ac51b1c','ohlcv','host:2',1700000030.0,1700000330.0,'RUNNING');
CREATE TABLE ledger_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE status_counts (
    workflow TEXT    NOT NULL,
    status   TEXT    NOT NULL,
    files    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (workflow, status)
);
INSERT INTO "status_counts" VALUES('ohlcv','TODO',1,104);
INSERT INTO "status_counts" VALUES('ohlcv','PROCESSING',2,205);
INSERT INTO "status_counts" VALUES('ohlcv','FAILED',1,101);
INSERT INTO "status_counts" VALUES('ohlcv','DONE',1,100);
CREATE TABLE transitions (
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
INSERT INTO "transitions" VALUES(1,'landing','ohlcv/2024/a.csv','ohlcv',NULL,'TODO',1700000010.0,'registered',NULL,'{"bucket":"landing","key":"ohlcv/2024/a.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":100,"etag":"ea","upload_time":1700000000.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(2,'landing','ohlcv/2024/b.csv','ohlcv',NULL,'TODO',1700000010.0,'registered',NULL,'{"bucket":"landing","key":"ohlcv/2024/b.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":101,"etag":"eb","upload_time":1700000001.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(3,'landing','ohlcv/2024/c.csv','ohlcv',NULL,'TODO',1700000010.0,'registered',NULL,'{"bucket":"landing","key":"ohlcv/2024/c.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":102,"etag":"ec","upload_time":1700000002.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(4,'landing','ohlcv/2024/d.csv','ohlcv',NULL,'TODO',1700000010.0,'registered',NULL,'{"bucket":"landing","key":"ohlcv/2024/d.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":103,"etag":"ed","upload_time":1700000003.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(5,'landing','ohlcv/2024/e.csv','ohlcv',NULL,'TODO',1700000010.0,'registered',NULL,'{"bucket":"landing","key":"ohlcv/2024/e.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":104,"etag":"ee","upload_time":1700000004.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(6,'landing','ohlcv/2024/a.csv','ohlcv','TODO','PROCESSING',1700000020.0,'claimed','{"bucket":"landing","key":"ohlcv/2024/a.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":100,"etag":"ea","upload_time":1700000000.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/a.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":100,"etag":"ea","upload_time":1700000000.25,"status":"PROCESSING","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":1700000320.0,"start_time":1700000020.0,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(7,'landing','ohlcv/2024/b.csv','ohlcv','TODO','PROCESSING',1700000020.0,'claimed','{"bucket":"landing","key":"ohlcv/2024/b.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":101,"etag":"eb","upload_time":1700000001.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/b.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":101,"etag":"eb","upload_time":1700000001.25,"status":"PROCESSING","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":1700000320.0,"start_time":1700000020.0,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(8,'landing','ohlcv/2024/b.csv','ohlcv','PROCESSING','FAILED',1700000021.5,'failed','{"bucket":"landing","key":"ohlcv/2024/b.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":101,"etag":"eb","upload_time":1700000001.25,"status":"PROCESSING","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":1700000320.0,"start_time":1700000020.0,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/b.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":101,"etag":"eb","upload_time":1700000001.25,"status":"FAILED","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":null,"start_time":1700000020.0,"end_time":1700000021.5,"error":"column ''Open'', row 3: ''x''","output":null}');
INSERT INTO "transitions" VALUES(9,'landing','ohlcv/2024/a.csv','ohlcv','PROCESSING','DONE',1700000021.5,'processed','{"bucket":"landing","key":"ohlcv/2024/a.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":100,"etag":"ea","upload_time":1700000000.25,"status":"PROCESSING","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":1700000320.0,"start_time":1700000020.0,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/a.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":100,"etag":"ea","upload_time":1700000000.25,"status":"DONE","attempts":1,"batch_id":"09a3bc2924234c75bb718e9dc8315a92","lease_until":null,"start_time":1700000020.0,"end_time":1700000021.5,"error":null,"output":"/out/a.parquet"}');
INSERT INTO "transitions" VALUES(10,'landing','ohlcv/2024/c.csv','ohlcv','TODO','PROCESSING',1700000030.0,'claimed','{"bucket":"landing","key":"ohlcv/2024/c.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":102,"etag":"ec","upload_time":1700000002.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/c.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":102,"etag":"ec","upload_time":1700000002.25,"status":"PROCESSING","attempts":1,"batch_id":"b8bda495aff94a9d9d4693610ac51b1c","lease_until":1700000330.0,"start_time":1700000030.0,"end_time":null,"error":null,"output":null}');
INSERT INTO "transitions" VALUES(11,'landing','ohlcv/2024/d.csv','ohlcv','TODO','PROCESSING',1700000030.0,'claimed','{"bucket":"landing","key":"ohlcv/2024/d.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":103,"etag":"ed","upload_time":1700000003.25,"status":"TODO","attempts":0,"batch_id":null,"lease_until":null,"start_time":null,"end_time":null,"error":null,"output":null}','{"bucket":"landing","key":"ohlcv/2024/d.csv","workflow":"ohlcv","prefix":"ohlcv/2024/","size":103,"etag":"ed","upload_time":1700000003.25,"status":"PROCESSING","attempts":1,"batch_id":"b8bda495aff94a9d9d4693610ac51b1c","lease_until":1700000330.0,"start_time":1700000030.0,"end_time":null,"error":null,"output":null}');
CREATE TABLE unrouted (
    key     TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    seen_at REAL NOT NULL,
    reason  TEXT NOT NULL
);
CREATE TABLE workflow_metadata (
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
INSERT INTO "workflow_metadata" VALUES('ohlcv','ohlcv/','ohlcv',2,60.0,2,2147483648,3,300.0,5.0,18000.0,'["*.csv", "*.csv.gz"]','{}',1.79616517479341316222e+09);
CREATE TABLE workflow_status (
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
INSERT INTO "workflow_status" VALUES(1,'landing','ohlcv/2024/a.csv','ohlcv','ohlcv/2024/',100,'ea',1700000000.25,'DONE',1,'09a3bc2924234c75bb718e9dc8315a92',NULL,0.0,1700000020.0,1700000021.5,NULL,'/out/a.parquet');
INSERT INTO "workflow_status" VALUES(2,'landing','ohlcv/2024/b.csv','ohlcv','ohlcv/2024/',101,'eb',1700000001.25,'FAILED',1,'09a3bc2924234c75bb718e9dc8315a92',NULL,0.0,1700000020.0,1700000021.5,'column ''Open'', row 3: ''x''',NULL);
INSERT INTO "workflow_status" VALUES(3,'landing','ohlcv/2024/c.csv','ohlcv','ohlcv/2024/',102,'ec',1700000002.25,'PROCESSING',1,'b8bda495aff94a9d9d4693610ac51b1c',1700000330.0,0.0,1700000030.0,NULL,NULL,NULL);
INSERT INTO "workflow_status" VALUES(4,'landing','ohlcv/2024/d.csv','ohlcv','ohlcv/2024/',103,'ed',1700000003.25,'PROCESSING',1,'b8bda495aff94a9d9d4693610ac51b1c',1700000330.0,0.0,1700000030.0,NULL,NULL,NULL);
INSERT INTO "workflow_status" VALUES(5,'landing','ohlcv/2024/e.csv','ohlcv','ohlcv/2024/',104,'ee',1700000004.25,'TODO',0,NULL,NULL,0.0,NULL,NULL,NULL,NULL);
CREATE INDEX workflow_status_todo
    ON workflow_status (workflow, upload_time, available_at) WHERE status = 'TODO';
CREATE INDEX workflow_status_processing
    ON workflow_status (lease_until) WHERE status = 'PROCESSING';
CREATE INDEX workflow_status_batch_key
    ON workflow_status (batch_id, key) WHERE batch_id IS NOT NULL;
CREATE INDEX workflow_status_by_status
    ON workflow_status (status, upload_time);
CREATE INDEX transitions_by_key ON transitions (bucket, key, id);
CREATE INDEX batches_running ON batches (state) WHERE state = 'RUNNING';
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('transitions',11);
COMMIT;
