-- rear-server schema, PostgreSQL flavour. Times are Unix milliseconds (UTC).

CREATE TABLE reports (
    seq          BIGSERIAL PRIMARY KEY,
    report_id    TEXT    NOT NULL UNIQUE,
    hostname     TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    success      BOOLEAN NOT NULL,
    error        TEXT,
    started_at   BIGINT  NOT NULL,
    duration_ms  BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    source       TEXT    NOT NULL,
    rear_version TEXT    NOT NULL,
    legacy_mail  BOOLEAN NOT NULL DEFAULT FALSE,
    body         TEXT    NOT NULL,
    -- hostname, domain, tags, layout, inventory and log tail, for full-text search; split at every
    -- non-alphanumeric character (like SQLite's unicode61 tokenizer) so "/dev/vdb" matches "vdb"
    search_text  TEXT    NOT NULL,
    search       TSVECTOR GENERATED ALWAYS AS
                 (to_tsvector('simple', regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g'))) STORED
);
CREATE INDEX reports_host_started ON reports (hostname, started_at DESC);
CREATE INDEX reports_search ON reports USING GIN (search);

CREATE TABLE hosts (
    hostname        TEXT   PRIMARY KEY,
    domain          TEXT   NOT NULL,
    tags            TEXT   NOT NULL,
    os              TEXT   NOT NULL,
    report_count    BIGINT NOT NULL,
    last_seq        BIGINT NOT NULL REFERENCES reports (seq),
    last_started_at BIGINT NOT NULL,
    last_rescue_at  BIGINT,
    last_backup_at  BIGINT
);
CREATE INDEX hosts_domain ON hosts (domain);

CREATE TABLE host_tags (
    hostname TEXT NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (hostname, tag)
);
CREATE INDEX host_tags_tag ON host_tags (tag);

CREATE TABLE users (
    name          TEXT   PRIMARY KEY,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    username   TEXT   NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    scope      TEXT   NOT NULL,
    hostname   TEXT,
    created_at BIGINT NOT NULL
);
