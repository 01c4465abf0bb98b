-- The Data Uploader: projects (where files go), their cycles (rounds of delivery), sync sessions
-- (one run of copying a set of files into a cycle) and the per-file records a session's sync job
-- keeps. docs/uploads.md describes the resources and rules.
--
-- Projects, cycles and sessions are deleted softly (deleted_at): names and cycle numbers are
-- unique among live rows only, and a deleted project takes its cycles and sessions with it in
-- the same transaction. Foreign keys between them are composite, starting with workspace_id,
-- so a row can never name another workspace's parent.

CREATE TABLE upload_projects (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    -- NULL: the server's own blob store.
    storage_connection_id uuid,
    bucket text NOT NULL DEFAULT '' CHECK (length(bucket) <= 63),
    base_prefix text NOT NULL DEFAULT '' CHECK (length(base_prefix) <= 500),
    is_active boolean NOT NULL DEFAULT true,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, storage_connection_id) REFERENCES storage_connections (workspace_id, id)
);
CREATE UNIQUE INDEX upload_projects_name ON upload_projects (workspace_id, name) WHERE deleted_at IS NULL;
CREATE INDEX upload_projects_connection ON upload_projects (workspace_id, storage_connection_id)
    WHERE deleted_at IS NULL AND storage_connection_id IS NOT NULL;

CREATE TABLE upload_cycles (
    workspace_id uuid NOT NULL,
    id uuid NOT NULL,
    project_id uuid NOT NULL,
    cycle_name text NOT NULL CHECK (length(cycle_name) BETWEEN 1 AND 200),
    cycle_number integer NOT NULL CHECK (cycle_number >= 0),
    s3_prefix text NOT NULL DEFAULT '' CHECK (length(s3_prefix) <= 500),
    status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'active', 'completed')),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    started_at timestamptz,
    completed_at timestamptz,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES upload_projects (workspace_id, id)
);
CREATE UNIQUE INDEX upload_cycles_number ON upload_cycles (workspace_id, project_id, cycle_number)
    WHERE deleted_at IS NULL;

CREATE TABLE upload_sync_sessions (
    workspace_id uuid NOT NULL,
    id uuid NOT NULL,
    project_id uuid NOT NULL,
    cycle_id uuid NOT NULL,
    -- NULL: files are uploaded through the API into the session.
    local_directory text CHECK (length(local_directory) BETWEEN 1 AND 4096),
    max_workers integer NOT NULL DEFAULT 4 CHECK (max_workers BETWEEN 1 AND 32),
    times_to_retry integer NOT NULL DEFAULT 3 CHECK (times_to_retry BETWEEN 0 AND 10),
    include_patterns text[] NOT NULL DEFAULT '{}',
    exclude_patterns text[] NOT NULL DEFAULT '{}',
    use_find boolean NOT NULL DEFAULT true,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_progress', 'completed', 'completed_with_errors', 'failed', 'cancelled')),
    files_total bigint NOT NULL DEFAULT 0 CHECK (files_total >= 0),
    files_done bigint NOT NULL DEFAULT 0 CHECK (files_done >= 0),
    files_failed bigint NOT NULL DEFAULT 0 CHECK (files_failed >= 0),
    files_skipped bigint NOT NULL DEFAULT 0 CHECK (files_skipped >= 0),
    bytes_total bigint NOT NULL DEFAULT 0 CHECK (bytes_total >= 0),
    bytes_done bigint NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    job_id uuid,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    deleted_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, cycle_id) REFERENCES upload_cycles (workspace_id, id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES upload_projects (workspace_id, id)
);
CREATE INDEX upload_sync_sessions_cycle ON upload_sync_sessions (workspace_id, cycle_id, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX upload_sync_sessions_project ON upload_sync_sessions (workspace_id, project_id, id DESC)
    WHERE deleted_at IS NULL;

-- One file of a session: filled by the session's sync job (relative_path is unique within it).
CREATE TABLE upload_files (
    workspace_id uuid NOT NULL,
    id uuid NOT NULL,
    session_id uuid NOT NULL,
    relative_path text NOT NULL CHECK (length(relative_path) BETWEEN 1 AND 4096),
    object_key text NOT NULL CHECK (length(object_key) BETWEEN 1 AND 1024),
    size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'uploading', 'uploaded', 'skipped', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error text CHECK (length(error) <= 2000),
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, session_id, relative_path),
    FOREIGN KEY (workspace_id, session_id) REFERENCES upload_sync_sessions (workspace_id, id)
);
CREATE INDEX upload_files_session ON upload_files (workspace_id, session_id, id DESC);

ALTER TABLE upload_projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_projects FORCE ROW LEVEL SECURITY;
CREATE POLICY upload_projects_tenant ON upload_projects
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
ALTER TABLE upload_cycles ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_cycles FORCE ROW LEVEL SECURITY;
CREATE POLICY upload_cycles_tenant ON upload_cycles
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
ALTER TABLE upload_sync_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_sync_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY upload_sync_sessions_tenant ON upload_sync_sessions
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
ALTER TABLE upload_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_files FORCE ROW LEVEL SECURITY;
CREATE POLICY upload_files_tenant ON upload_files
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());

-- KL422 (answered 422, DETAIL naming the request's field) unless `p_id` is a live storage
-- connection of the current workspace; NULL passes (the server's own blob store). The share
-- lock holds off a concurrent delete of the connection until this transaction ends, and that
-- delete then sees the project that names it.
CREATE FUNCTION kiln_upload_connection_usable(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF p_id IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM storage_connections
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND deleted_at IS NULL
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'is not a storage connection of this workspace' USING ERRCODE = 'KL422',
            DETAIL = 'storage_connection_id';
    END IF;
END
$$;

-- KL404 unless the project is live here; with `p_field` set, a missing project is that
-- request field's error instead (KL422). Locks the row so that a concurrent delete waits.
CREATE FUNCTION kiln_upload_project_require(p_id uuid, p_field text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM upload_projects
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND deleted_at IS NULL
       FOR SHARE;
    IF NOT FOUND AND p_field IS NULL THEN
        RAISE EXCEPTION 'No such project.' USING ERRCODE = 'KL404';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'is not a project of this workspace' USING ERRCODE = 'KL422', DETAIL = p_field;
    END IF;
END
$$;

-- Like kiln_upload_project_require for cycles; returns the cycle's project.
CREATE FUNCTION kiln_upload_cycle_require(p_id uuid, p_field text DEFAULT NULL) RETURNS uuid
    LANGUAGE plpgsql
    AS $$
DECLARE
    project uuid;
BEGIN
    SELECT c.project_id INTO project FROM upload_cycles c
     WHERE c.workspace_id = kiln_current_workspace() AND c.id = p_id AND c.deleted_at IS NULL
       FOR SHARE;
    IF NOT FOUND AND p_field IS NULL THEN
        RAISE EXCEPTION 'No such cycle.' USING ERRCODE = 'KL404';
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'is not a cycle of this workspace' USING ERRCODE = 'KL422', DETAIL = p_field;
    END IF;
    RETURN project;
END
$$;

-- The first statement of a session change: KL404 unless the session is live here; KL409 when
-- `p_refused` names its state (a running session is not deleted; only a pending one changes).
CREATE FUNCTION kiln_upload_session_require(p_id uuid, p_refused text[], p_message text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    current_state text;
BEGIN
    SELECT state INTO current_state FROM upload_sync_sessions
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND deleted_at IS NULL
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such sync session.' USING ERRCODE = 'KL404';
    END IF;
    IF current_state = ANY (p_refused) THEN
        RAISE EXCEPTION USING MESSAGE = replace(p_message, '%s', current_state), ERRCODE = 'KL409';
    END IF;
END
$$;

-- Deletes a project or a cycle with everything under it (soft), unless a session under it is
-- pending or in progress (KL409: it would run against a deleted parent). Exactly one of the
-- two ids is given. Locks the parent row first so that a session cannot be created under it
-- meanwhile (creating one takes a share lock on both).
CREATE FUNCTION kiln_upload_delete_tree(p_project uuid, p_cycle uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws uuid := kiln_current_workspace();
BEGIN
    IF p_project IS NOT NULL THEN
        PERFORM 1 FROM upload_projects WHERE workspace_id = ws AND id = p_project AND deleted_at IS NULL
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'No such project.' USING ERRCODE = 'KL404';
        END IF;
    ELSE
        PERFORM 1 FROM upload_cycles WHERE workspace_id = ws AND id = p_cycle AND deleted_at IS NULL FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'No such cycle.' USING ERRCODE = 'KL404';
        END IF;
    END IF;
    -- Cycles too: a session being created under one holds it (share lock) until it commits.
    PERFORM 1 FROM upload_cycles
     WHERE workspace_id = ws AND deleted_at IS NULL AND (project_id = p_project OR id = p_cycle)
       FOR UPDATE;
    PERFORM 1 FROM upload_sync_sessions
     WHERE workspace_id = ws AND deleted_at IS NULL AND state IN ('pending', 'in_progress')
       AND (project_id = p_project OR cycle_id = p_cycle);
    IF FOUND THEN
        RAISE EXCEPTION 'Sync sessions under it are pending or in progress; cancel or finish them first.'
            USING ERRCODE = 'KL409';
    END IF;
    UPDATE upload_sync_sessions SET deleted_at = now(), updated_at = now()
     WHERE workspace_id = ws AND deleted_at IS NULL AND (project_id = p_project OR cycle_id = p_cycle);
    UPDATE upload_cycles SET deleted_at = now(), updated_at = now()
     WHERE workspace_id = ws AND deleted_at IS NULL AND (project_id = p_project OR id = p_cycle);
    UPDATE upload_projects SET deleted_at = now(), updated_at = now()
     WHERE workspace_id = ws AND id = p_project AND deleted_at IS NULL;
END
$$;

-- Deleting a storage connection that a live project still uses is refused (KL409): the
-- project's uploads would have nowhere to go. Called by the storage connection delete, after
-- kiln_storage_connection_require has locked the connection.
CREATE FUNCTION kiln_storage_connection_unused(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    project text;
BEGIN
    SELECT name INTO project FROM upload_projects
     WHERE workspace_id = kiln_current_workspace() AND storage_connection_id = p_id AND deleted_at IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'The project "%" uses this storage connection; change or delete the project first.', project
            USING ERRCODE = 'KL409';
    END IF;
END
$$;
