-- Storage connections: a workspace's own S3-compatible buckets (the Data Uploader seed's
-- aws_profile). docs/storage.md#storage-connections.
--
-- The secret access key is sealed by the server (crypto_secretbox under storage.master_key)
-- before it reaches the database: these columns hold only the nonce and the ciphertext, and a
-- deleted connection keeps neither.

CREATE TABLE storage_connections (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    endpoint text NOT NULL CHECK (endpoint ~ '^https?://' AND length(endpoint) <= 500),
    region text NOT NULL CHECK (length(region) BETWEEN 1 AND 64),
    bucket text NOT NULL CHECK (length(bucket) BETWEEN 3 AND 63),
    access_key_id text NOT NULL CHECK (length(access_key_id) BETWEEN 1 AND 128),
    secret_nonce bytea CHECK (length(secret_nonce) = 24),
    secret_ciphertext bytea CHECK (length(secret_ciphertext) > 16),
    path_style boolean NOT NULL DEFAULT true,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    CHECK ((deleted_at IS NULL) = (secret_nonce IS NOT NULL AND secret_ciphertext IS NOT NULL))
);
-- A name means one live connection; a deleted one's name is free again.
CREATE UNIQUE INDEX storage_connections_name ON storage_connections (workspace_id, name) WHERE deleted_at IS NULL;

ALTER TABLE storage_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_connections_tenant ON storage_connections
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());

-- The first statement of every change: KL404 (answered 404) unless the connection is live in
-- the current workspace, so that nothing after it in the batch (the audit event) runs for
-- another workspace's id; the row lock orders concurrent changes.
CREATE FUNCTION kiln_storage_connection_require(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM storage_connections
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND deleted_at IS NULL
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such storage connection.' USING ERRCODE = 'KL404';
    END IF;
END
$$;
