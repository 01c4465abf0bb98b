-- Files: blobs uploaded through the API (POST /api/v1/files), their metadata here, their bytes
-- in the blob store under ws/<workspace>/files/<id>. docs/storage.md describes the rules.

CREATE TABLE files (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    content_type text NOT NULL CHECK (length(content_type) <= 255),   -- sniffed from the bytes
    declared_type text NOT NULL CHECK (length(declared_type) <= 255),  -- what the client said
    size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key text NOT NULL,
    -- uploading: the row reserves the id and key while the bytes stream in (so an interrupted
    -- upload leaves a row that names its blob); ready: committed and counted in the usage.
    status text NOT NULL CHECK (status IN ('uploading', 'ready')),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    CHECK (status = 'uploading' OR sha256 IS NOT NULL)
);
-- GET /files: newest first among the live files.
CREATE INDEX files_live ON files (workspace_id, id DESC) WHERE status = 'ready' AND deleted_at IS NULL;

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
CREATE POLICY files_tenant ON files
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());

-- What a workspace stores, counted when a file becomes ready and when it is deleted, so the
-- quota check is one row update instead of a sum over files.
CREATE TABLE workspace_usage (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id),
    bytes_stored bigint NOT NULL DEFAULT 0 CHECK (bytes_stored >= 0),
    files bigint NOT NULL DEFAULT 0 CHECK (files >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE workspace_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_usage_tenant ON workspace_usage
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());

-- Makes an uploaded file ready and counts it, atomically: the usage row is updated only when
-- the file still fits the plan's storage quota. Concurrent uploads queue on that row's lock and
-- each re-checks the sum the previous one left, so together they can never pass the quota.
CREATE FUNCTION kiln_file_ready(p_id uuid, p_size bigint, p_sha256 text, p_content_type text, p_name text,
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
     WHERE workspace_id = kiln_current_workspace() AND bytes_stored + p_size <= coalesce(quota, 0);
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

-- Soft-deletes a ready file and gives its bytes back to the quota. Its uploader may delete it,
-- and so may the workspace's admins and owners. Returns the blob's key for the caller to remove.
CREATE FUNCTION kiln_file_delete(p_id uuid) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    f record;
BEGIN
    SELECT size, storage_key, created_by INTO f FROM files
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND status = 'ready' AND deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such file.' USING ERRCODE = 'KL404';
    END IF;
    IF f.created_by IS DISTINCT FROM kiln_current_user() AND kiln_role_rank(kiln_current_role()) < kiln_role_rank('admin')
    THEN
        RAISE EXCEPTION 'Only the uploader or an admin may delete this file.' USING ERRCODE = 'KL403';
    END IF;
    UPDATE files SET deleted_at = now() WHERE workspace_id = kiln_current_workspace() AND id = p_id;
    UPDATE workspace_usage SET bytes_stored = bytes_stored - f.size, files = files - 1, updated_at = now()
     WHERE workspace_id = kiln_current_workspace();
    RETURN f.storage_key;
END
$$;
