-- Resumable uploads (tus 1.0, /api/v1/tus): the offset of each upload here, its bytes staged on
-- the server's disk until the last one arrives, then a file like any other (docs/storage.md#tus).

CREATE TABLE tus_uploads (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    length bigint NOT NULL CHECK (length >= 0),
    -- Bytes durably written to the staging file; never more than the length.
    received bigint NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= length),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    declared_type text NOT NULL CHECK (length(declared_type) <= 255),
    -- The file the upload became; set in the transaction that makes that file ready.
    file_id uuid,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    CHECK (file_id IS NULL OR received = length)
);
CREATE INDEX tus_uploads_expiry ON tus_uploads (expires_at);

ALTER TABLE tus_uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE tus_uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tus_uploads_tenant ON tus_uploads
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
-- The storage sweep (a built-in cron task of the job worker) crosses workspaces, as retention does.
CREATE POLICY tus_uploads_worker ON tus_uploads USING (kiln_worker()) WITH CHECK (kiln_worker());
CREATE POLICY files_worker ON files USING (kiln_worker()) WITH CHECK (kiln_worker());
CREATE POLICY workspace_usage_worker ON workspace_usage USING (kiln_worker()) WITH CHECK (kiln_worker());

-- Bytes promised to unfinished tus uploads (their Upload-Length): they count against the quota
-- beside what is stored, so an upload accepted at creation always fits when it completes.
ALTER TABLE workspace_usage ADD COLUMN bytes_reserved bigint NOT NULL DEFAULT 0 CHECK (bytes_reserved >= 0);
-- Stale 'uploading' rows (a process that died mid-upload) are found by age.
CREATE INDEX files_uploading ON files (created_at) WHERE status = 'uploading';

-- As in 0012, and the reservations count too.
CREATE OR REPLACE FUNCTION kiln_file_ready(p_id uuid, p_size bigint, p_sha256 text, p_content_type text, p_name text,
                                           p_declared_type text)
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    quota bigint;
BEGIN
    SELECT p.storage_bytes INTO quota
      FROM workspaces w JOIN plans p ON p.id = w.plan
     WHERE w.id = kiln_current_workspace();
    INSERT INTO workspace_usage (workspace_id) VALUES (kiln_current_workspace()) ON CONFLICT DO NOTHING;
    UPDATE workspace_usage SET bytes_stored = bytes_stored + p_size, files = files + 1, updated_at = now()
     WHERE workspace_id = kiln_current_workspace()
       AND bytes_stored + bytes_reserved + p_size <= coalesce(quota, 0);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The plan stores at most % bytes; delete files or change the plan.', coalesce(quota, 0)
            USING ERRCODE = 'KL402', DETAIL = 'storage_bytes';
    END IF;
    UPDATE files SET status = 'ready', size = p_size, sha256 = p_sha256, content_type = p_content_type,
                     name = p_name, declared_type = p_declared_type
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND status = 'uploading';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such upload.' USING ERRCODE = 'KL404';
    END IF;
END
$$;

-- Creates a tus upload and reserves its length, only if it fits the quota beside what is stored
-- and reserved (the same row lock orders it with kiln_file_ready).
CREATE FUNCTION kiln_tus_create(p_id uuid, p_length bigint, p_name text, p_declared_type text, p_expires_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    quota bigint;
BEGIN
    SELECT p.storage_bytes INTO quota
      FROM workspaces w JOIN plans p ON p.id = w.plan
     WHERE w.id = kiln_current_workspace();
    INSERT INTO workspace_usage (workspace_id) VALUES (kiln_current_workspace()) ON CONFLICT DO NOTHING;
    UPDATE workspace_usage SET bytes_reserved = bytes_reserved + p_length, updated_at = now()
     WHERE workspace_id = kiln_current_workspace()
       AND bytes_stored + bytes_reserved + p_length <= coalesce(quota, 0);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The plan stores at most % bytes; delete files or change the plan.', coalesce(quota, 0)
            USING ERRCODE = 'KL402', DETAIL = 'storage_bytes';
    END IF;
    INSERT INTO tus_uploads (workspace_id, id, length, name, declared_type, created_by, expires_at)
    VALUES (kiln_current_workspace(), p_id, p_length, p_name, p_declared_type, kiln_current_user(), p_expires_at);
END
$$;

-- The first statement of the batch that makes a completed upload's file ready: gives back the
-- reservation (kiln_file_ready then charges the stored bytes) and records the file, or KL404
-- when the upload is gone (terminated, expired) or already became a file.
CREATE FUNCTION kiln_tus_complete(p_id uuid, p_file_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE tus_uploads SET file_id = p_file_id
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND file_id IS NULL AND received = length
    RETURNING length INTO n;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such upload.' USING ERRCODE = 'KL404';
    END IF;
    UPDATE workspace_usage SET bytes_reserved = bytes_reserved - n, updated_at = now()
     WHERE workspace_id = kiln_current_workspace();
END
$$;

-- Termination: the row goes and an unfinished upload's reservation is given back. KL404 when
-- there is no such upload in the workspace.
CREATE FUNCTION kiln_tus_delete(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    u record;
BEGIN
    DELETE FROM tus_uploads WHERE workspace_id = kiln_current_workspace() AND id = p_id
    RETURNING length, file_id INTO u;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such upload.' USING ERRCODE = 'KL404';
    END IF;
    IF u.file_id IS NULL THEN
        UPDATE workspace_usage SET bytes_reserved = bytes_reserved - u.length, updated_at = now()
         WHERE workspace_id = kiln_current_workspace();
    END IF;
END
$$;

-- A PATCH's bytes are staged: the offset moves from p_from to p_to and the expiry is pushed back
-- (returned as an HTTP date for Upload-Expires). KL409 when the offset moved meanwhile, or the
-- upload finished, expired or was terminated, so the batch (and its audit event) stops here.
CREATE FUNCTION kiln_tus_advance(p_id uuid, p_from bigint, p_to bigint, p_expiry_s bigint) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    e timestamptz;
BEGIN
    UPDATE tus_uploads SET received = p_to, expires_at = now() + make_interval(secs => p_expiry_s)
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND received = p_from AND file_id IS NULL
       AND expires_at > now()
    RETURNING expires_at INTO e;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The upload changed meanwhile (terminated, expired, or written by another request).'
            USING ERRCODE = 'KL409';
    END IF;
    RETURN to_char(e AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"');
END
$$;
