-- Roles are checked live. The session check every authenticated request makes also checks,
-- when the request asks for it, that the user belongs to the current workspace (else KL404:
-- another workspace is "not found") with at least a given role (else KL403) — in the same
-- round trip, so a removal or a demotion holds from the next request on.

CREATE FUNCTION kiln_role_rank(p_role text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE p_role WHEN 'viewer' THEN 1 WHEN 'member' THEN 2 WHEN 'admin' THEN 3 WHEN 'owner' THEN 4 ELSE 0 END $$;

-- The caller's live role in the current workspace (NULL: none, or the workspace is deleted).
CREATE FUNCTION kiln_current_role() RETURNS text
    LANGUAGE sql STABLE
    AS $$
SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
 WHERE m.workspace_id = kiln_current_workspace() AND m.user_id = kiln_current_user()
$$;

DROP FUNCTION kiln_require_session(uuid);

CREATE FUNCTION kiln_require_session(p_session uuid, p_min_role text DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    used timestamptz;
    live_role text;
BEGIN
    -- One read on the common path; last_used_at is written at most once a minute.
    SELECT last_used_at INTO used FROM auth_sessions
     WHERE id = p_session AND revoked_at IS NULL AND expires_at > now();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session is not live' USING ERRCODE = 'KL401';
    END IF;
    IF used < now() - interval '1 minute' THEN
        UPDATE auth_sessions SET last_used_at = now() WHERE id = p_session;
    END IF;
    IF p_min_role IS NULL THEN
        RETURN NULL;
    END IF;
    -- A user who must change their password (an admin-made account) reaches only their own
    -- account (me, change-password, sessions, logout) until they do.
    IF (SELECT must_change_password FROM users WHERE id = kiln_current_user()) THEN
        RAISE EXCEPTION 'Change your password first (POST /api/v1/auth/change-password).' USING ERRCODE = 'KL403';
    END IF;
    live_role := kiln_current_role();
    IF live_role IS NULL THEN
        RAISE EXCEPTION 'No such workspace.' USING ERRCODE = 'KL404';
    END IF;
    IF kiln_role_rank(live_role) < kiln_role_rank(p_min_role) THEN
        RAISE EXCEPTION 'Your role in this workspace (%) does not allow this.', live_role USING ERRCODE = 'KL403';
    END IF;
    RETURN live_role;
END
$$;

-- Membership changes lock the workspace row first, so concurrent changes are serialized and
-- "at least one owner" cannot be raced past. Returns the caller's role and the target's (KL404
-- when the target is no member), and how many owners there are.
CREATE FUNCTION kiln_member_lock(p_user uuid, OUT caller text, OUT target text, OUT owners integer)
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM workspaces WHERE id = kiln_current_workspace() FOR UPDATE;
    caller := kiln_current_role();
    SELECT role INTO target FROM memberships WHERE workspace_id = kiln_current_workspace() AND user_id = p_user;
    IF target IS NULL THEN
        RAISE EXCEPTION 'No such member.' USING ERRCODE = 'KL404';
    END IF;
    SELECT count(*) INTO owners FROM memberships WHERE workspace_id = kiln_current_workspace() AND role = 'owner';
END
$$;

CREATE FUNCTION kiln_member_set_role(p_user uuid, p_role text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    m record;
BEGIN
    SELECT * INTO m FROM kiln_member_lock(p_user);
    IF (m.target = 'owner' OR p_role = 'owner') AND m.caller IS DISTINCT FROM 'owner' THEN
        RAISE EXCEPTION 'Only an owner grants or takes the owner role.' USING ERRCODE = 'KL403';
    END IF;
    IF m.target = 'owner' AND p_role <> 'owner' AND m.owners <= 1 THEN
        RAISE EXCEPTION 'A workspace keeps at least one owner.' USING ERRCODE = 'KL409';
    END IF;
    UPDATE memberships SET role = p_role WHERE workspace_id = kiln_current_workspace() AND user_id = p_user;
END
$$;

-- Removes a member; a member removing themselves is leaving, which any role may do.
CREATE FUNCTION kiln_member_remove(p_user uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    m record;
BEGIN
    SELECT * INTO m FROM kiln_member_lock(p_user);
    IF p_user <> kiln_current_user() THEN
        IF kiln_role_rank(m.caller) < kiln_role_rank('admin') THEN
            RAISE EXCEPTION 'Your role in this workspace (%) does not allow this.', m.caller USING ERRCODE = 'KL403';
        END IF;
        IF m.target = 'owner' AND m.caller <> 'owner' THEN
            RAISE EXCEPTION 'Only an owner removes an owner.' USING ERRCODE = 'KL403';
        END IF;
    END IF;
    IF m.target = 'owner' AND m.owners <= 1 THEN
        RAISE EXCEPTION 'A workspace keeps at least one owner.' USING ERRCODE = 'KL409';
    END IF;
    DELETE FROM memberships WHERE workspace_id = kiln_current_workspace() AND user_id = p_user;
END
$$;

-- Soft delete; the personal workspace made at registration stays.
CREATE FUNCTION kiln_workspace_delete() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF (SELECT personal FROM workspaces WHERE id = kiln_current_workspace()) THEN
        RAISE EXCEPTION 'The personal workspace cannot be deleted.' USING ERRCODE = 'KL409';
    END IF;
    UPDATE workspaces SET deleted_at = now() WHERE id = kiln_current_workspace() AND deleted_at IS NULL;
END
$$;
