-- rear-server schema, SQLite flavour. Times are Unix milliseconds (UTC).

CREATE TABLE reports (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id    TEXT    NOT NULL UNIQUE,
    hostname     TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    success      INTEGER NOT NULL,
    error        TEXT,
    started_at   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    rear_version TEXT    NOT NULL,
    legacy_mail  INTEGER NOT NULL DEFAULT 0,
    body         TEXT    NOT NULL
);
CREATE INDEX reports_host_started ON reports (hostname, started_at DESC);

CREATE TABLE hosts (
    hostname        TEXT    PRIMARY KEY,
    domain          TEXT    NOT NULL,
    tags            TEXT    NOT NULL,
    os              TEXT    NOT NULL,
    report_count    INTEGER NOT NULL,
    last_seq        INTEGER NOT NULL REFERENCES reports (seq),
    last_started_at INTEGER NOT NULL,
    last_rescue_at  INTEGER,
    last_backup_at  INTEGER
);
CREATE INDEX hosts_domain ON hosts (domain);

CREATE TABLE host_tags (
    hostname TEXT NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (hostname, tag)
);
CREATE INDEX host_tags_tag ON host_tags (tag);

-- rowid = reports.seq
CREATE VIRTUAL TABLE reports_fts USING fts5 (hostname, tags, layout, inventory, log);

CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    scope      TEXT    NOT NULL,
    hostname   TEXT,
    created_at INTEGER NOT NULL
);
