-- What a sync costs PostgreSQL per file: a row inserted by the scan, then its outcome.
--
-- A file's outcome is written over its row once (pending → uploaded, skipped or failed, with its
-- SHA-256, ETag, size and times). PostgreSQL writes such an update beside the old row on the same
-- page without touching any index (a HOT update) only when no indexed column changes, partial
-- indexes' predicates included, and the page has room. None of the three held: `status` was in the
-- predicates of upload_files_lane, upload_files_sending and upload_files_etag, and etag, sha256 and
-- size_bytes in upload_files_etag, so every outcome added an entry to each of the table's indexes.

-- The lanes' index holds every file of a session (a lane's listing skips the ones not pending).
DROP INDEX upload_files_lane;
CREATE INDEX upload_files_lane ON upload_files (workspace_id, session_id, lane, relative_path);

-- Bytes in flight: bytes_sent is above 0 only while a file is pending (kiln_upload_file_sending
-- writes it only then, and the status trigger zeroes it whenever the status changes).
DROP INDEX upload_files_sending;
CREATE INDEX upload_files_sending ON upload_files (workspace_id, session_id) WHERE bytes_sent > 0;

-- What a large object kiln sent holds, by the ETag and size the store gave it (migration 0020):
-- a table of its own, written with the outcome, instead of an index on upload_files.
CREATE TABLE upload_object_hashes (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    etag text NOT NULL CHECK (length(etag) BETWEEN 1 AND 200),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 5242880),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, etag, size_bytes)
);
ALTER TABLE upload_object_hashes ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_object_hashes FORCE ROW LEVEL SECURITY;
CREATE POLICY upload_object_hashes_tenant ON upload_object_hashes
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
INSERT INTO upload_object_hashes (workspace_id, etag, size_bytes, sha256)
SELECT DISTINCT ON (workspace_id, etag, size_bytes) workspace_id, etag, size_bytes, sha256
  FROM upload_files
 WHERE etag IS NOT NULL AND sha256 IS NOT NULL AND size_bytes >= 5242880 AND status IN ('uploaded', 'skipped')
 ORDER BY workspace_id, etag, size_bytes, finished_at DESC NULLS LAST;
DROP INDEX upload_files_etag;

-- Room on each page for its rows' outcomes: a row is written about twice (inserted by the scan,
-- then its outcome), the second version somewhat larger than the first. Pages written from now on.
ALTER TABLE upload_files SET (fillfactor = 55);

-- A lane's outcomes find their rows by their ids, a primary-key probe each (128 a statement),
-- instead of reading every row of the session to join them by id: for a 2,000-file sync that read
-- 2,000 rows in each of its 16 statements, about a third of PostgreSQL's time for the outcomes.
-- The rows are locked first (a lane that lost its lease and the one that took over may report the
-- same file: the first report wins) and only then checked for the session and `pending`: with
-- those in the lookup, or the ids as one `= ANY` list, the planner (no statistics yet on a new
-- session's rows) read the session's or the workspace's rows through another index and filtered
-- them by id — 20-126 ms a statement with a join on the ids, measured. One id at a time, only the
-- primary key fits.
CREATE OR REPLACE FUNCTION kiln_upload_files_done(p_session uuid, p_file uuid[], p_status text[], p_attempts integer[],
                                                  p_error text[], p_sha256 text[], p_etag text[], p_size bigint[],
                                                  p_started timestamptz[], p_event boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    c record;
BEGIN
    WITH o AS (
        SELECT * FROM unnest(p_file, p_status, p_attempts, p_error, p_sha256, p_etag, p_size, p_started)
                   AS o(id, status, attempts, error, sha256, etag, size, started)),
    old AS (
        SELECT u.id, u.session_id, u.status, u.size_bytes
          FROM unnest(p_file) AS i(id)
         CROSS JOIN LATERAL (SELECT x.id, x.session_id, x.status, x.size_bytes FROM upload_files x
                              WHERE x.workspace_id = kiln_current_workspace() AND x.id = i.id
                                FOR UPDATE) u),
    done AS (
        UPDATE upload_files f
           SET status = o.status, attempts = f.attempts + o.attempts, error = left(o.error, 2000),
               sha256 = coalesce(o.sha256, f.sha256), etag = left(o.etag, 200), size_bytes = o.size,
               started_at = o.started, finished_at = now(), updated_at = now()
          FROM o JOIN old ON old.id = o.id AND old.session_id = p_session AND old.status = 'pending'
         WHERE f.workspace_id = kiln_current_workspace() AND f.id = o.id
        RETURNING f.status, f.size_bytes AS size, old.size_bytes AS old_size, f.etag, f.sha256),
    hashed AS (
        INSERT INTO upload_object_hashes (workspace_id, etag, size_bytes, sha256)
        SELECT DISTINCT ON (etag, size) kiln_current_workspace(), etag, size, sha256 FROM done
         WHERE etag IS NOT NULL AND sha256 IS NOT NULL AND size >= 5242880 AND status IN ('uploaded', 'skipped')
        ON CONFLICT (workspace_id, etag, size_bytes) DO UPDATE SET sha256 = excluded.sha256, recorded_at = now())
    SELECT count(*) AS n, count(*) FILTER (WHERE status = 'uploaded') AS uploaded,
           count(*) FILTER (WHERE status = 'skipped') AS skipped, count(*) FILTER (WHERE status = 'failed') AS failed,
           coalesce(sum(size - old_size), 0) AS grew,
           coalesce(sum(size) FILTER (WHERE status <> 'failed'), 0) AS bytes
      INTO c FROM done;
    IF c.n > 0 THEN
        UPDATE upload_sync_sessions
           SET files_done = files_done + c.uploaded, files_skipped = files_skipped + c.skipped,
               files_failed = files_failed + c.failed, bytes_total = bytes_total + c.grew,
               bytes_done = bytes_done + c.bytes, updated_at = now()
         WHERE workspace_id = kiln_current_workspace() AND id = p_session;
    END IF;
    IF p_event THEN
        PERFORM kiln_upload_progress_event(p_session);
    END IF;
END
$$;

-- The scan's listing of the store (migration 0017: a file whose key was not listed is put without
-- a HEAD first) goes in with the rows it describes, instead of a second statement updating them:
-- for a new prefix on S3 that was every row again, inside the transaction the lanes wait for
-- (2,000 small files to s3rver: the lanes started 103-107 ms after the start request before,
-- 53-60 ms after, measured). Rows already in the session (an earlier scan's, or uploaded through
-- the API) keep key_absent false, as before.
-- The rest is migration 0021's function, restated whole.
DROP FUNCTION kiln_upload_sync_scanned(uuid, uuid, uuid[], text[], text[], text[], bigint[], uuid[], text[], text[], text,
                                       integer, text);
CREATE FUNCTION kiln_upload_sync_scanned(p_session uuid, p_job uuid, p_id uuid[], p_relative text[],
                                         p_source text[], p_key text[], p_size bigint[], p_absent boolean[],
                                         p_refused_id uuid[], p_refused text[], p_reason text[], p_error text,
                                         p_lanes integer, p_prefix text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    dealt boolean := false;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND id = p_session FOR NO KEY UPDATE;
    IF NOT FOUND OR s.job_id IS DISTINCT FROM p_job THEN
        RETURN;
    END IF;
    IF s.scanned_at IS NULL THEN
        dealt := NOT EXISTS (SELECT 1 FROM upload_files
                              WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'pending');
        INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, size_bytes, source_path, lane,
                                  key_absent)
        SELECT s.workspace_id, f.id, s.id, f.relative, f.key, f.size, f.source,
               (row_number() OVER (ORDER BY f.size DESC, f.relative) - 1) % greatest(p_lanes, 1), f.absent
          FROM unnest(p_id, p_relative, p_key, p_size, p_source, p_absent) AS f(id, relative, key, size, source, absent)
        ON CONFLICT (workspace_id, session_id, relative_path) DO NOTHING;
        INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, status, error,
                                  finished_at)
        SELECT s.workspace_id, f.id, s.id, left(f.relative, 4096), '-', 'failed', left(f.reason, 2000), now()
          FROM unnest(p_refused_id, p_refused, p_reason) AS f(id, relative, reason)
        ON CONFLICT (workspace_id, session_id, relative_path) DO NOTHING;
        -- Files uploaded through the API: their keys, from the prefixes as they are now.
        UPDATE upload_files
           SET object_key = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN p_prefix || relative_path
                                 ELSE '-' END,
               status = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN status ELSE 'failed' END,
               error = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN error
                            ELSE 'its key would be over 1024 characters' END
         WHERE workspace_id = s.workspace_id AND session_id = s.id AND file_id IS NOT NULL;
        UPDATE upload_sync_sessions u
           SET scanned_at = now(), error = p_error,
               files_total = t.files, bytes_total = t.bytes, files_failed = t.failed, updated_at = now()
          FROM (SELECT count(*) AS files, coalesce(sum(size_bytes), 0) AS bytes,
                       count(*) FILTER (WHERE status = 'failed') AS failed
                  FROM upload_files WHERE workspace_id = s.workspace_id AND session_id = s.id) t
         WHERE u.workspace_id = s.workspace_id AND u.id = s.id;
    END IF;
    IF NOT dealt THEN
        UPDATE upload_files f
           SET lane = o.n % greatest(p_lanes, 1)
          FROM (SELECT id, row_number() OVER (ORDER BY size_bytes DESC, relative_path) - 1 AS n
                  FROM upload_files
                 WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'pending') o
         WHERE f.workspace_id = s.workspace_id AND f.id = o.id;
    END IF;
    PERFORM kiln_upload_progress_event(s.id);
END
$$;
