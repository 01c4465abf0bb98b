-- A sync's lanes wait (run_at infinity) for its scan to share out the files. A scan that ends
-- without doing so — dead after its last attempt (the database or the directory unreachable
-- throughout, a worker killed each time) or cancelled on its own — cancels the lanes still
-- waiting: the batch then ends, and its parent settles the session as failed, instead of the
-- lanes waiting for someone to cancel the session.
CREATE FUNCTION kiln_upload_scan_ended() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- The lanes are locked in id order before any of them changes, as kiln_job_cancel locks a
    -- batch's children; each change then locks the parent (kiln_job_batch).
    PERFORM 1 FROM jobs
      WHERE workspace_id = NEW.workspace_id AND parent_id = NEW.parent_id AND kind = 'uploads.transfer'
        AND state = 'scheduled' AND run_at = 'infinity'
      ORDER BY id FOR UPDATE;
    UPDATE jobs SET state = 'cancelled', finished_at = now()
     WHERE workspace_id = NEW.workspace_id AND parent_id = NEW.parent_id AND kind = 'uploads.transfer'
       AND state = 'scheduled' AND run_at = 'infinity';
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_upload_scan_ended AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.kind = 'uploads.scan' AND NEW.parent_id IS NOT NULL
                       AND OLD.state IS DISTINCT FROM NEW.state AND NEW.state IN ('dead', 'cancelled'))
    EXECUTE FUNCTION kiln_upload_scan_ended();
