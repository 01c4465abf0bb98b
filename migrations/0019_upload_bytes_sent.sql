-- How far a lane is into a file it is sending, so a large file shows progress before it ends:
-- reported at the lane's progress ticks, counted in the sync.progress event as bytes_sending (and
-- in its rate and ETA), and back to 0 whenever the file's status changes (sent, skipped, failed,
-- pending again for a retry). A lane killed mid-file leaves its figure until the file's next try
-- reports or ends.
ALTER TABLE upload_files ADD COLUMN bytes_sent bigint NOT NULL DEFAULT 0 CHECK (bytes_sent >= 0);
CREATE INDEX upload_files_sending ON upload_files (workspace_id, session_id) WHERE status = 'pending' AND bytes_sent > 0;

CREATE FUNCTION kiln_upload_file_status_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.bytes_sent := 0;
    RETURN NEW;
END
$$;
CREATE TRIGGER upload_files_status BEFORE UPDATE OF status ON upload_files
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND OLD.bytes_sent > 0)
    EXECUTE FUNCTION kiln_upload_file_status_changed();

CREATE FUNCTION kiln_upload_file_sending(p_session uuid, p_file uuid, p_bytes bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE upload_files SET bytes_sent = least(greatest(p_bytes, 0), size_bytes)
     WHERE workspace_id = kiln_current_workspace() AND id = p_file AND session_id = p_session
       AND status = 'pending';
    IF FOUND THEN
        PERFORM kiln_upload_progress_event(p_session);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION kiln_upload_progress_event(p_session uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s upload_sync_sessions%ROWTYPE;
    sending bigint;
    elapsed double precision;
    rate double precision;
    d jsonb;
    ev bigint;
BEGIN
    SELECT * INTO s FROM upload_sync_sessions WHERE workspace_id = kiln_current_workspace() AND id = p_session;
    IF NOT FOUND OR s.job_id IS NULL THEN
        RETURN;
    END IF;
    sending := CASE WHEN s.state = 'in_progress' THEN
        (SELECT coalesce(sum(bytes_sent), 0) FROM upload_files
          WHERE workspace_id = s.workspace_id AND session_id = s.id AND status = 'pending' AND bytes_sent > 0)
        ELSE 0 END;
    elapsed := extract(epoch FROM coalesce(s.finished_at, now()) - s.started_at);
    rate := CASE WHEN elapsed > 0 THEN (s.bytes_done + sending) / elapsed END;
    d := jsonb_build_object(
        'job_id', s.job_id, 'session_id', s.id, 'state', s.state,
        'files_total', s.files_total, 'files_done', s.files_done, 'files_skipped', s.files_skipped,
        'files_failed', s.files_failed, 'bytes_total', s.bytes_total, 'bytes_done', s.bytes_done,
        'bytes_sending', sending, 'bytes_per_second', round(coalesce(rate, 0)),
        'eta_s', CASE WHEN rate > 0 AND s.state = 'in_progress'
                      THEN ceil(greatest(s.bytes_total - s.bytes_done - sending, 0) / rate) END);
    INSERT INTO job_events (workspace_id, job_id, type, data)
    VALUES (s.workspace_id, s.job_id, 'sync.progress', d)
    RETURNING id INTO ev;
    PERFORM pg_notify('kiln_job_events',
                      json_build_array(json_build_object('workspace_id', s.workspace_id, 'id', ev,
                                                         'type', 'sync.progress', 'data', d))::text);
END
$$;
