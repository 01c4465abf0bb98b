-- Identity and tenancy: users, workspaces, memberships, sessions with rotating refresh tokens,
-- login throttling and the audit trail.
--
-- Users, sessions and refresh tokens belong to a person, not to a workspace: their policies
-- show a row to its own user (kiln.user_id). Signing in happens before anyone is known, so
-- the auth store alone opens an "identity lookup" (kiln.identity = 'on', transaction-local)
-- for the few statements that find an account by email or a token by its hash. Workspace
-- data is filtered by kiln.workspace_id as everywhere else.

CREATE FUNCTION kiln_identity_lookup() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('kiln.identity', true), '') = 'on' $$;

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    username text CHECK (length(username) BETWEEN 3 AND 40),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    email_verified_at timestamptz,
    is_platform_admin boolean NOT NULL DEFAULT false,
    must_change_password boolean NOT NULL DEFAULT false,
    default_workspace_id uuid,
    deactivated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION kiln_touch_updated_at();

CREATE TABLE workspaces (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan text NOT NULL DEFAULT 'free',
    personal boolean NOT NULL DEFAULT false,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE TRIGGER workspaces_touch BEFORE UPDATE ON workspaces FOR EACH ROW EXECUTE FUNCTION kiln_touch_updated_at();

ALTER TABLE users ADD FOREIGN KEY (default_workspace_id) REFERENCES workspaces (id);

CREATE TABLE memberships (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE TRIGGER memberships_touch BEFORE UPDATE ON memberships FOR EACH ROW EXECUTE FUNCTION kiln_touch_updated_at();

-- One row per login: the refresh-token family. Its access tokens carry its id and are
-- refused as soon as it is revoked.
CREATE TABLE auth_sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    active_workspace_id uuid NOT NULL REFERENCES workspaces (id),
    user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    ip inet,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id, created_at) WHERE revoked_at IS NULL;

-- Only the SHA-256 of a refresh token is stored. A spent token presented again means it was
-- stolen or replayed: the whole session (family) is revoked.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at timestamptz,
    replaced_by bytea  -- the hash of the token that replaced it (names the rotation that spent it)
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed attempts per key ('login:account:<email>', 'login:ip:<ip>', 'register:ip:<ip>'),
-- in the database so that every server process sees the same counts.
CREATE TABLE auth_throttle (
    key text PRIMARY KEY CHECK (length(key) <= 400),
    failures integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    actor_user_id uuid REFERENCES users (id),
    action text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id text NOT NULL DEFAULT '',
    ip inet,
    request_id text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_events_time ON audit_events (workspace_id, created_at DESC, id DESC);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_self ON users
    USING (id = kiln_current_user() OR kiln_identity_lookup());
-- Members of the current workspace see each other (member lists, audit actors).
CREATE POLICY users_co_members ON users FOR SELECT
    USING (EXISTS (SELECT 1 FROM memberships m
                   WHERE m.user_id = users.id AND m.workspace_id = kiln_current_workspace()));

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY workspaces_tenant ON workspaces
    USING (id = kiln_current_workspace())
    WITH CHECK (id = kiln_current_workspace());
-- A user lists and switches between the workspaces they belong to.
CREATE POLICY workspaces_of_user ON workspaces FOR SELECT
    USING (kiln_identity_lookup() OR EXISTS (SELECT 1 FROM memberships m
                   WHERE m.workspace_id = workspaces.id AND m.user_id = kiln_current_user()));

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant ON memberships
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
CREATE POLICY memberships_own ON memberships FOR SELECT
    USING (user_id = kiln_current_user() OR kiln_identity_lookup());

ALTER TABLE auth_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY auth_sessions_own ON auth_sessions
    USING (user_id = kiln_current_user() OR kiln_identity_lookup());

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_own ON refresh_tokens
    USING (user_id = kiln_current_user() OR kiln_identity_lookup());

ALTER TABLE auth_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY auth_throttle_identity ON auth_throttle
    USING (kiln_identity_lookup());

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
-- Security events (refresh-token reuse, failed logins) are recorded before a workspace is set.
CREATE POLICY audit_events_identity ON audit_events FOR INSERT
    WITH CHECK (kiln_identity_lookup());

-- Every authenticated request's first batch calls this after setting kiln.user_id: a revoked
-- or expired session aborts the batch (SQLSTATE KL401, answered 401) before its statements
-- run, in the same round trip. last_used_at moves at most once a minute.
CREATE FUNCTION kiln_require_session(p_session uuid) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE auth_sessions SET last_used_at = now()
     WHERE id = p_session AND revoked_at IS NULL AND expires_at > now()
       AND last_used_at < now() - interval '1 minute';
    IF FOUND THEN
        RETURN true;
    END IF;
    PERFORM 1 FROM auth_sessions WHERE id = p_session AND revoked_at IS NULL AND expires_at > now();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session is not live' USING ERRCODE = 'KL401';
    END IF;
    RETURN true;
END
$$;

-- Throttling. Seconds until any of `p_keys` may try again (0: now).
CREATE FUNCTION kiln_throttle_wait(p_keys text[]) RETURNS integer
    LANGUAGE sql STABLE
    AS $$
SELECT coalesce(max(ceil(extract(epoch FROM locked_until - now())))::integer, 0)
  FROM auth_throttle WHERE key = ANY (p_keys) AND locked_until > now()
$$;

-- Counts one event for `p_key` in a window of `p_window` (a key whose window passed starts over).
CREATE FUNCTION kiln_throttle_count(p_key text, p_window interval, OUT n integer, OUT started timestamptz)
    LANGUAGE sql
    AS $$
INSERT INTO auth_throttle AS t (key, failures, window_started_at, updated_at)
VALUES (p_key, 1, now(), now())
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.window_started_at < now() - p_window THEN 1 ELSE t.failures + 1 END,
    window_started_at = CASE WHEN t.window_started_at < now() - p_window THEN now() ELSE t.window_started_at END,
    updated_at = now()
RETURNING failures, window_started_at
$$;

-- Counts a failure for `p_key` in a window of `p_window`; from the `p_threshold`th on, locks the
-- key for p_base, 2 p_base, 4 p_base … up to `p_max_lock`. Returns the lock's length in seconds
-- (0: not locked).
CREATE FUNCTION kiln_throttle_fail(p_key text, p_threshold integer, p_window interval, p_base interval,
                                   p_max_lock interval)
    RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    n integer;
    lock interval;
BEGIN
    SELECT c.n INTO n FROM kiln_throttle_count(p_key, p_window) c;
    IF n < p_threshold THEN
        RETURN 0;
    END IF;
    lock := least(p_max_lock, p_base * power(2, least(n - p_threshold, 30)));
    UPDATE auth_throttle SET locked_until = now() + lock WHERE key = p_key;
    RETURN ceil(extract(epoch FROM lock))::integer;
END
$$;

-- Counts an event for `p_key`; past `p_limit` in the window it aborts the transaction with
-- SQLSTATE KL429 and the seconds to wait as DETAIL (the event is then not counted).
CREATE FUNCTION kiln_throttle_take(p_key text, p_limit integer, p_window interval) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    n integer;
    started timestamptz;
BEGIN
    SELECT c.n, c.started INTO n, started FROM kiln_throttle_count(p_key, p_window) c;
    IF n > p_limit THEN
        RAISE EXCEPTION 'too many attempts' USING ERRCODE = 'KL429',
            DETAIL = greatest(1, ceil(extract(epoch FROM started + p_window - now())))::integer::text;
    END IF;
    RETURN true;
END
$$;

-- RFC 3339 in UTC with microseconds, as the API shows times.
CREATE FUNCTION kiln_rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
