-- Fleet health: what the host state (stale, drifted) and the metrics need, kept up to date at
-- ingest so that the overview reads one row per host.
--   last_success_at     start of the newest successful report (any workflow)
--   layout_at           start of the newest report that carried a layout
--   layout_sha          SHA-256 of that layout (comments and blank lines removed)
--   rescue_layout_sha   SHA-256 of the layout of the newest successful mkrescue/mkbackup report
--   backup_bytes        sum of the output file sizes of the newest successful backup report
--   last_ok             whether the newest report (last_seq) is a success
ALTER TABLE hosts ADD COLUMN last_success_at   BIGINT;
ALTER TABLE hosts ADD COLUMN layout_at         BIGINT;
ALTER TABLE hosts ADD COLUMN layout_sha        TEXT;
ALTER TABLE hosts ADD COLUMN rescue_layout_sha TEXT;
ALTER TABLE hosts ADD COLUMN backup_bytes      BIGINT;
ALTER TABLE hosts ADD COLUMN last_ok           BOOLEAN NOT NULL DEFAULT true;

UPDATE hosts SET last_success_at =
    (SELECT MAX(r.started_at) FROM reports r WHERE r.hostname = hosts.hostname AND r.success);
UPDATE hosts SET last_ok =
    (SELECT r.success FROM reports r WHERE r.seq = hosts.last_seq);
