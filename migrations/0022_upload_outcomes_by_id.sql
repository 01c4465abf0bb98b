-- A lane's outcomes find their rows by their ids (`id = ANY`: index probes, 128 a statement)
-- instead of reading every row of the session to join them by id: for a 2,000-file sync that read
-- 2,000 rows in each of its 16 statements, about a third of PostgreSQL's time for the outcomes.
-- The rows are locked first (a lane that lost its lease and the one that took over may report the
-- same file: the first report wins) and only then checked for the session and `pending`: with
-- those in the lookup, the planner read the session's pending rows through the lanes' partial
-- index and filtered them by id, as it did with a join on the ids (no statistics on a new
-- session's rows: 20-126 ms a statement, measured). By the ids alone, only the primary key fits.
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
        RETURNING o.status, o.size, old.size_bytes AS old_size)
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
