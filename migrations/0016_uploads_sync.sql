-- The sync job of the Data Uploader (docs/uploads.md, "The sync job"): a batch whose first child
-- scans the session's directory and whose other children ("lanes", one per max_workers) wait
-- until the scan has recorded the files, then copy them.

ALTER TABLE upload_sync_sessions
    -- Set once the scan's file list is recorded (a retry does not scan again).
    ADD COLUMN scanned_at timestamptz,
    -- Why the session failed (its directory was gone, every lane failed, …).
    ADD COLUMN error text CHECK (length(error) <= 2000);

ALTER TABLE upload_files
    -- Which lane of the sync copies it.
    ADD COLUMN lane integer NOT NULL DEFAULT 0 CHECK (lane >= 0),
    -- What is read: the resolved path on the server (a symlink inside the root: its target).
    ADD COLUMN source_path text CHECK (length(source_path) <= 8192),
    ADD COLUMN etag text CHECK (length(etag) <= 200),
    -- A file uploaded through the API (POST /files, tus) into a session without local_directory.
    ADD COLUMN file_id uuid,
    ADD FOREIGN KEY (workspace_id, file_id) REFERENCES files (workspace_id, id);
CREATE INDEX upload_files_lane ON upload_files (workspace_id, session_id, lane, relative_path)
    WHERE status = 'pending';
CREATE INDEX upload_sync_sessions_job ON upload_sync_sessions (workspace_id, job_id) WHERE job_id IS NOT NULL;

-- A sync's counters as an event of its job: clients following the job (or the workspace) over
-- SSE or WebSocket see `sync.progress` beside the job's own events, and can resume from it.
CREATE FUNCTION kiln_upload_progress_event(p_session uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    elapsed double precision;
    rate double precision;
    d jsonb;
    ev bigint;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions WHERE workspace_id = kiln_current_workspace() AND id = p_session;
    IF NOT FOUND OR s.job_id IS NULL THEN
        RETURN;
    END IF;
    elapsed := extract(epoch FROM coalesce(s.finished_at, now()) - s.started_at);
    rate := CASE WHEN elapsed > 0 THEN s.bytes_done / elapsed END;
    d := jsonb_build_object(
        'job_id', s.job_id, 'session_id', s.id, 'state', s.state,
        'files_total', s.files_total, 'files_done', s.files_done, 'files_skipped', s.files_skipped,
        'files_failed', s.files_failed, 'bytes_total', s.bytes_total, 'bytes_done', s.bytes_done,
        'bytes_per_second', round(coalesce(rate, 0)),
        'eta_s', CASE WHEN rate > 0 AND s.state = 'in_progress'
                      THEN ceil(greatest(s.bytes_total - s.bytes_done, 0) / rate) END);
    INSERT INTO job_events (workspace_id, job_id, type, data)
    VALUES (s.workspace_id, s.job_id, 'sync.progress', d)
    RETURNING id INTO ev;
    PERFORM pg_notify('kiln_job_events',
                      json_build_array(json_build_object('workspace_id', s.workspace_id, 'id', ev,
                                                         'type', 'sync.progress', 'data', d))::text);
END
$$;

-- The live session, locked against other changes of its state; KL404 when it is not there.
CREATE FUNCTION kiln_upload_session_lock(p_session uuid) RETURNS upload_sync_sessions
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND id = p_session AND deleted_at IS NULL
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such sync session.' USING ERRCODE = 'KL404';
    END IF;
    RETURN s;
END
$$;

-- Starts (p_retry false: a pending session) or re-runs (true: the files not copied of a
-- session that ended) a sync under the job p_job, enqueued in the same transaction.
CREATE FUNCTION kiln_upload_sync_start(p_session uuid, p_job uuid, p_retry boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    active boolean;
    left_over bigint;
BEGIN
    s := kiln_upload_session_lock(p_session);
    IF NOT p_retry AND s.state <> 'pending' THEN
        RAISE EXCEPTION 'Only a pending sync session can be started; this one is %. Retry its failed files instead.',
            s.state USING ERRCODE = 'KL409';
    END IF;
    IF p_retry AND s.state NOT IN ('completed_with_errors', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'Only a sync session that ended with errors, failed or was cancelled can be retried; this one is %.',
            s.state USING ERRCODE = 'KL409';
    END IF;
    SELECT is_active INTO active FROM upload_projects
     WHERE workspace_id = s.workspace_id AND id = s.project_id AND deleted_at IS NULL;
    IF NOT coalesce(active, false) THEN
        RAISE EXCEPTION 'The project is not active.' USING ERRCODE = 'KL409';
    END IF;
    IF p_retry THEN
        SELECT count(*) INTO left_over FROM upload_files
         WHERE workspace_id = s.workspace_id AND session_id = s.id AND status NOT IN ('uploaded', 'skipped');
        IF left_over = 0 AND s.scanned_at IS NOT NULL THEN
            RAISE EXCEPTION 'Every file of this sync session is copied; there is nothing to retry.'
                USING ERRCODE = 'KL409';
        END IF;
        -- Entries the scan refused (no source) stay failed: nothing changed about them.
        UPDATE upload_files SET status = 'pending', error = NULL, updated_at = now()
         WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'failed'
           AND source_path IS NOT NULL;
    END IF;
    UPDATE upload_sync_sessions
       SET state = 'in_progress', job_id = p_job, error = NULL, finished_at = NULL,
           files_failed = (SELECT count(*) FROM upload_files
                            WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'failed'),
           started_at = CASE WHEN p_retry THEN started_at ELSE now() END, updated_at = now()
     WHERE workspace_id = s.workspace_id AND id = s.id;
END
$$;

-- A file uploaded through the API joins a pending session that reads no directory, under
-- `p_relative` (its name when null); its key is set when the sync starts (the prefixes may
-- change until then).
CREATE FUNCTION kiln_upload_session_add_file(p_session uuid, p_row uuid, p_file uuid, p_relative text)
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    f files%ROWTYPE;
BEGIN
    s := kiln_upload_session_lock(p_session);
    IF s.state <> 'pending' THEN
        RAISE EXCEPTION 'Files join a pending sync session only; this one is %.', s.state USING ERRCODE = 'KL409';
    END IF;
    IF s.local_directory IS NOT NULL THEN
        RAISE EXCEPTION 'This sync session reads its files from local_directory.' USING ERRCODE = 'KL409';
    END IF;
    SELECT * INTO f FROM files
     WHERE workspace_id = kiln_current_workspace() AND id = p_file AND status = 'ready' AND deleted_at IS NULL
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'is not a file of this workspace' USING ERRCODE = 'KL422', DETAIL = 'file_id';
    END IF;
    INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, size_bytes, sha256, file_id)
    VALUES (s.workspace_id, p_row, s.id, coalesce(p_relative, f.name), coalesce(p_relative, f.name), f.size,
            f.sha256, f.id);
END
$$;

-- The scan's result, recorded once (with the scan job's success): the files to copy, the entries
-- refused (as failed files), the session's totals; then the files are shared among p_lanes
-- lanes, biggest first, so that the lanes carry about the same bytes.
CREATE FUNCTION kiln_upload_sync_scanned(p_session uuid, p_job uuid, p_id uuid[], p_relative text[],
                                         p_source text[], p_key text[], p_size bigint[], p_refused_id uuid[],
                                         p_refused text[], p_reason text[], p_error text, p_lanes integer,
                                         p_prefix text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND id = p_session FOR NO KEY UPDATE;
    IF NOT FOUND OR s.job_id IS DISTINCT FROM p_job THEN
        RETURN;
    END IF;
    IF s.scanned_at IS NULL THEN
        INSERT INTO upload_files (workspace_id, id, session_id, relative_path, object_key, size_bytes, source_path)
        SELECT s.workspace_id, f.id, s.id, f.relative, f.key, f.size, f.source
          FROM unnest(p_id, p_relative, p_key, p_size, p_source) AS f(id, relative, key, size, source)
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
    UPDATE upload_files f
       SET lane = o.n % greatest(p_lanes, 1)
      FROM (SELECT id, row_number() OVER (ORDER BY size_bytes DESC, relative_path) - 1 AS n
              FROM upload_files
             WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'pending') o
     WHERE f.workspace_id = s.workspace_id AND f.id = o.id;
    PERFORM kiln_upload_progress_event(s.id);
END
$$;

-- Files' outcomes, each counted once on its session (a lane that lost its lease and the one that
-- took over may both report a file: the first report wins). A lane reports a few at a time.
CREATE FUNCTION kiln_upload_files_done(p_session uuid, p_file uuid[], p_status text[], p_attempts integer[],
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
        SELECT u.id, u.size_bytes FROM upload_files u JOIN o ON o.id = u.id
         WHERE u.workspace_id = kiln_current_workspace() AND u.session_id = p_session AND u.status = 'pending'
           FOR UPDATE OF u),
    done AS (
        UPDATE upload_files f
           SET status = o.status, attempts = f.attempts + o.attempts, error = left(o.error, 2000),
               sha256 = coalesce(o.sha256, f.sha256), etag = left(o.etag, 200), size_bytes = o.size,
               started_at = o.started, finished_at = now(), updated_at = now()
          FROM o JOIN old ON old.id = o.id
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

-- The sync's batch parent, once every lane has ended: the session's final state. Only the
-- session's current job finishes it, and only while it is in progress (a cancel came first).
CREATE FUNCTION kiln_upload_sync_finish(p_session uuid, p_job uuid, p_lanes_failed text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE upload_sync_sessions
       SET state = CASE WHEN p_lanes_failed IS NOT NULL THEN 'failed'
                        WHEN error IS NOT NULL AND files_done + files_skipped = 0 THEN 'failed'
                        WHEN files_failed > 0 OR error IS NOT NULL THEN 'completed_with_errors'
                        ELSE 'completed' END,
           error = coalesce(p_lanes_failed, error), finished_at = now(), updated_at = now()
     WHERE workspace_id = kiln_current_workspace() AND id = p_session AND job_id = p_job AND state = 'in_progress';
    IF FOUND THEN
        PERFORM kiln_upload_progress_event(p_session);
    END IF;
END
$$;

-- Cancel: a pending session ends at once; a running sync's job is cancelled (its waiting lanes at
-- once, running ones at their next file); files not copied stay `pending` for a retry.
CREATE FUNCTION kiln_upload_sync_cancel(p_session uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    job_state text;
BEGIN
    s := kiln_upload_session_lock(p_session);
    IF s.state NOT IN ('pending', 'in_progress') THEN
        RAISE EXCEPTION 'The sync session has ended (%).', s.state USING ERRCODE = 'KL409';
    END IF;
    IF s.job_id IS NOT NULL THEN
        SELECT state INTO job_state FROM jobs WHERE workspace_id = s.workspace_id AND id = s.job_id;
        IF job_state NOT IN ('succeeded', 'dead', 'cancelled') THEN
            PERFORM kiln_job_cancel(s.job_id);
        END IF;
    END IF;
    UPDATE upload_sync_sessions SET state = 'cancelled', finished_at = now(), updated_at = now()
     WHERE workspace_id = s.workspace_id AND id = s.id;
    PERFORM kiln_upload_progress_event(s.id);
END
$$;
