-- Rescue images uploaded to the content-addressed store (one row per host and object).
--   seq          upload order; retention keeps the newest keep_per_host rows of a host
--   sha256       the object's name in the store (<images dir>/sha256/ab/cdef...)
--   name         file name the client gave (e.g. rear-web1.iso), used for downloads
-- An object shared by several hosts has one row per host; its file is deleted only when the
-- last row naming it is gone.
CREATE TABLE images (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    hostname     TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    uploaded_at  INTEGER NOT NULL,
    UNIQUE (hostname, sha256)
);
CREATE INDEX images_sha256 ON images (sha256);
