-- Plans and their limits, API keys, and what platform administrators may see.

-- A workspace's plan fixes its limits. Every limit is NOT NULL: a missing number cannot mean
-- "unlimited" by accident (limits fail closed); a large number is how a plan says "a lot".
CREATE TABLE plans (
    id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{1,39}$'),
    name text NOT NULL,
    max_members integer NOT NULL CHECK (max_members >= 1),
    max_api_keys integer NOT NULL CHECK (max_api_keys >= 0),
    storage_bytes bigint NOT NULL CHECK (storage_bytes >= 0),
    max_file_bytes bigint NOT NULL CHECK (max_file_bytes >= 0),
    max_concurrent_jobs integer NOT NULL CHECK (max_concurrent_jobs >= 1),
    monthly_credits bigint NOT NULL CHECK (monthly_credits >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO plans (id, name, max_members, max_api_keys, storage_bytes, max_file_bytes, max_concurrent_jobs,
                   monthly_credits)
VALUES ('free', 'Free', 5, 5, 1073741824, 104857600, 2, 100),
       ('team', 'Team', 50, 50, 107374182400, 5368709120, 10, 10000),
       ('enterprise', 'Enterprise', 10000, 1000, 10995116277760, 107374182400, 100, 1000000);

ALTER TABLE workspaces ADD FOREIGN KEY (plan) REFERENCES plans (id);

ALTER TABLE plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE plans FORCE ROW LEVEL SECURITY;
-- Plans are public price-list data; only migrations change them.
CREATE POLICY plans_read ON plans FOR SELECT USING (true);

-- Platform administrators (users.is_platform_admin) see every workspace and user. The admin
-- store turns this on only after kiln_require_platform_admin() checked the caller, in the same
-- transaction; like kiln.identity it is transaction-local.
CREATE FUNCTION kiln_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('kiln.platform_admin', true), '') = 'on' $$;

CREATE FUNCTION kiln_require_platform_admin() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NOT coalesce((SELECT is_platform_admin AND deactivated_at IS NULL FROM users WHERE id = kiln_current_user()),
                    false) THEN
        RAISE EXCEPTION 'Only platform administrators may do this.' USING ERRCODE = 'KL403';
    END IF;
    PERFORM set_config('kiln.platform_admin', 'on', true);
END
$$;

CREATE POLICY workspaces_platform ON workspaces USING (kiln_platform_scope()) WITH CHECK (kiln_platform_scope());
CREATE POLICY users_platform ON users USING (kiln_platform_scope()) WITH CHECK (kiln_platform_scope());
CREATE POLICY memberships_platform ON memberships FOR SELECT USING (kiln_platform_scope());
CREATE POLICY audit_events_platform ON audit_events FOR INSERT WITH CHECK (kiln_platform_scope());

-- Members are counted against the plan whenever one is added, under a lock on the workspace's
-- row, so two concurrent additions cannot both pass. NO KEY UPDATE, not UPDATE: the same
-- transaction may already hold the KEY SHARE lock a foreign key to the workspace takes (an
-- admin-created account references it), and two such transactions upgrading to UPDATE would
-- deadlock.
CREATE FUNCTION kiln_check_member_limit() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    lim integer;
    n integer;
BEGIN
    -- Rows are only ever added in their own workspace's scope (the tenant policy's WITH CHECK
    -- refuses anything else right after this trigger), where the plan and the rows are visible.
    IF NEW.workspace_id IS DISTINCT FROM kiln_current_workspace() THEN
        RETURN NEW;
    END IF;
    SELECT p.max_members INTO lim
      FROM workspaces w JOIN plans p ON p.id = w.plan
     WHERE w.id = NEW.workspace_id
       FOR NO KEY UPDATE OF w;
    IF lim IS NULL THEN
        RAISE EXCEPTION 'The workspace has no plan; members cannot be added.' USING ERRCODE = 'KL402',
            DETAIL = 'members';
    END IF;
    SELECT count(*) INTO n FROM memberships WHERE workspace_id = NEW.workspace_id;
    IF n >= lim THEN
        RAISE EXCEPTION 'The plan allows % members; remove one or change the plan.', lim USING ERRCODE = 'KL402',
            DETAIL = 'members';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER memberships_limit BEFORE INSERT ON memberships FOR EACH ROW EXECUTE FUNCTION kiln_check_member_limit();

-- API keys: a workspace's credential for programs. The key is "kiln_<prefix>_<secret>"; only
-- the SHA-256 of the whole key is stored. The prefix finds the row before any workspace is
-- known, so one narrow policy shows exactly the row whose prefix the lookup names.
CREATE TABLE api_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix text NOT NULL CHECK (prefix ~ '^[a-z0-9]{12}$'),
    key_hash bytea NOT NULL CHECK (length(key_hash) = 32),
    role text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX api_keys_prefix_key ON api_keys (prefix);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
CREATE POLICY api_keys_lookup ON api_keys FOR SELECT
    USING (prefix = current_setting('kiln.api_key_prefix', true));

CREATE FUNCTION kiln_check_api_key_limit() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    lim integer;
    n integer;
BEGIN
    -- Rows are only ever added in their own workspace's scope (the tenant policy's WITH CHECK
    -- refuses anything else right after this trigger), where the plan and the rows are visible.
    IF NEW.workspace_id IS DISTINCT FROM kiln_current_workspace() THEN
        RETURN NEW;
    END IF;
    SELECT p.max_api_keys INTO lim
      FROM workspaces w JOIN plans p ON p.id = w.plan
     WHERE w.id = NEW.workspace_id
       FOR NO KEY UPDATE OF w;
    SELECT count(*) INTO n FROM api_keys
     WHERE workspace_id = NEW.workspace_id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());
    IF lim IS NULL OR n >= lim THEN
        RAISE EXCEPTION 'The plan allows % live API keys; revoke one or change the plan.', coalesce(lim, 0)
            USING ERRCODE = 'KL402', DETAIL = 'api_keys';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER api_keys_limit BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION kiln_check_api_key_limit();

-- The per-request check of an API key, the counterpart of kiln_require_session: the key is
-- live (KL401), acts only in its own workspace (KL404), on workspace routes only (KL403), and
-- with the lesser of its own role and its creator's live role — a key dies with its creator's
-- membership and is demoted with them.
CREATE FUNCTION kiln_require_api_key(p_key uuid, p_key_workspace uuid, p_min_role text) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    k record;
    creator_role text;
    effective text;
BEGIN
    IF p_min_role IS NULL THEN
        RAISE EXCEPTION 'API keys act within their workspace; this route needs a signed-in user.'
            USING ERRCODE = 'KL403';
    END IF;
    IF p_key_workspace IS DISTINCT FROM kiln_current_workspace() THEN
        RAISE EXCEPTION 'No such workspace.' USING ERRCODE = 'KL404';
    END IF;
    SELECT role, last_used_at INTO k FROM api_keys
     WHERE workspace_id = p_key_workspace AND id = p_key
       AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The API key is revoked or expired.' USING ERRCODE = 'KL401';
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_keys SET last_used_at = now() WHERE workspace_id = p_key_workspace AND id = p_key;
    END IF;
    creator_role := kiln_current_role();
    IF creator_role IS NULL THEN
        RAISE EXCEPTION 'The API key''s creator no longer belongs to the workspace.' USING ERRCODE = 'KL401';
    END IF;
    effective := CASE WHEN kiln_role_rank(creator_role) < kiln_role_rank(k.role) THEN creator_role ELSE k.role END;
    IF kiln_role_rank(effective) < kiln_role_rank(p_min_role) THEN
        RAISE EXCEPTION 'The API key''s role (%) does not allow this.', effective USING ERRCODE = 'KL403';
    END IF;
    RETURN effective;
END
$$;

-- For a mutation batch whose target may not exist: `WITH changed AS (UPDATE … RETURNING 1)
-- SELECT kiln_found(count(*), '…') FROM changed` aborts the batch (KL404) when nothing changed,
-- so the audit event after it is not written either.
CREATE FUNCTION kiln_found(p_count bigint, p_message text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF p_count = 0 THEN
        RAISE EXCEPTION '%', p_message USING ERRCODE = 'KL404';
    END IF;
    RETURN true;
END
$$;

-- A platform administrator who deactivates an account ends its sessions.
CREATE POLICY auth_sessions_platform ON auth_sessions USING (kiln_platform_scope());
