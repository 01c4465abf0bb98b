-- The scan's insert of its files without ON CONFLICT when the session has no files yet (a
-- session reading a server directory gets files only from its scan, and files join through the
-- API only while a session is pending, under the session's lock, which the scan holds): the
-- speculative insertion ON CONFLICT needs was 3.5 of the 25 ms 2,000 rows took, inside the
-- transaction the lanes wait for (measured in isolation, median of eight). When the session has
-- files, the ones already there are left out as before.
-- A scan into a session without files takes its totals from what it inserted, and does not look
-- for files uploaded through the API (two more passes over the rows it had just inserted).
-- A file's key may come as NULL, for p_prefix || its path (what it always is for a scanned file):
-- the keys were half the bytes of the statement's parameters (2,000 keys of ~125 bytes), sent and
-- parsed inside the same transaction.
-- The rest is migration 0022's function, restated whole.
CREATE OR REPLACE FUNCTION kiln_upload_sync_scanned(p_session uuid, p_job uuid, p_id uuid[], p_relative text[],
                                         p_source text[], p_key text[], p_size bigint[], p_absent boolean[],
                                         p_refused_id uuid[], p_refused text[], p_reason text[], p_error text,
                                         p_lanes integer, p_prefix text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    dealt boolean := false;
    had boolean;
    inserted bigint;
    refused bigint;
    files bigint;
    bytes bigint;
    failed bigint;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND id = p_session FOR NO KEY UPDATE;
    IF NOT FOUND OR s.job_id IS DISTINCT FROM p_job THEN
        RETURN;
    END IF;
    IF s.scanned_at IS NULL THEN
        had := EXISTS (SELECT 1 FROM upload_files WHERE workspace_id = s.workspace_id AND session_id = s.id);
        dealt := NOT had OR NOT EXISTS (SELECT 1 FROM upload_files
                                         WHERE workspace_id = s.workspace_id AND session_id = s.id
                                           AND status = 'pending');
        INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, size_bytes, source_path, lane,
                                  key_absent)
        SELECT s.workspace_id, f.id, s.id, f.relative, coalesce(f.key, p_prefix || f.relative), f.size, f.source,
               (row_number() OVER (ORDER BY f.size DESC, f.relative) - 1) % greatest(p_lanes, 1), f.absent
          FROM unnest(p_id, p_relative, p_key, p_size, p_source, p_absent) AS f(id, relative, key, size, source, absent)
         WHERE NOT had OR NOT EXISTS (SELECT 1 FROM upload_files u
                                       WHERE u.workspace_id = s.workspace_id AND u.session_id = s.id
                                         AND u.relative_path = f.relative);
        GET DIAGNOSTICS inserted = ROW_COUNT;
        INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, status, error,
                                  finished_at)
        SELECT s.workspace_id, f.id, s.id, left(f.relative, 4096), '-', 'failed', left(f.reason, 2000), now()
          FROM unnest(p_refused_id, p_refused, p_reason) AS f(id, relative, reason)
        ON CONFLICT (workspace_id, session_id, relative_path) DO NOTHING;
        GET DIAGNOSTICS refused = ROW_COUNT;
        IF had THEN
            -- Files uploaded through the API: their keys, from the prefixes as they are now; the totals
            -- count them too.
            UPDATE upload_files
               SET object_key = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN p_prefix || relative_path
                                     ELSE '-' END,
                   status = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN status ELSE 'failed' END,
                   error = CASE WHEN length(p_prefix || relative_path) <= 1024 THEN error
                                ELSE 'its key would be over 1024 characters' END
             WHERE workspace_id = s.workspace_id AND session_id = s.id AND file_id IS NOT NULL;
            SELECT count(*), coalesce(sum(size_bytes), 0), count(*) FILTER (WHERE status = 'failed')
              INTO files, bytes, failed
              FROM upload_files WHERE workspace_id = s.workspace_id AND session_id = s.id;
        ELSE
            -- Only what this scan inserted: its totals are its own.
            files := inserted + refused;
            bytes := (SELECT coalesce(sum(x), 0) FROM unnest(p_size) AS x);
            failed := refused;
        END IF;
        UPDATE upload_sync_sessions
           SET scanned_at = now(), error = p_error, files_total = files, bytes_total = bytes, files_failed = failed,
               updated_at = now()
         WHERE workspace_id = s.workspace_id AND id = s.id;
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
