-- Admin-managed accounts (seed 002): a workspace admin creates a user with a role and a
-- temporary password that must be changed at first sign-in.

ALTER TABLE users ADD COLUMN managed_by_workspace_id uuid REFERENCES workspaces (id);

-- An admin of the workspace (an owner, for the owner role) may create its managed accounts.
CREATE POLICY users_managed_insert ON users FOR INSERT
    WITH CHECK (managed_by_workspace_id = kiln_current_workspace()
                AND kiln_role_rank(kiln_current_role()) >= kiln_role_rank('admin'));

-- KL403 unless the caller may grant `p_role` here: admins grant admin, member, viewer; only
-- owners grant owner.
CREATE FUNCTION kiln_check_grant(p_role text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF p_role = 'owner' AND kiln_current_role() IS DISTINCT FROM 'owner' THEN
        RAISE EXCEPTION 'Only an owner grants the owner role.' USING ERRCODE = 'KL403';
    END IF;
    RETURN true;
END
$$;

-- Its admins update and deactivate a managed account; deactivation ends its sessions. An
-- UPDATE … WHERE must also see the rows, hence the read policy beside the update one.
CREATE POLICY users_managed_update ON users FOR UPDATE
    USING (managed_by_workspace_id = kiln_current_workspace()
           AND kiln_role_rank(kiln_current_role()) >= kiln_role_rank('admin'));
CREATE FUNCTION kiln_managed_by_current(p_user uuid) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
SELECT kiln_role_rank(kiln_current_role()) >= kiln_role_rank('admin')
       AND EXISTS (SELECT 1 FROM users u WHERE u.id = p_user AND u.managed_by_workspace_id = kiln_current_workspace())
$$;
CREATE POLICY auth_sessions_managed_read ON auth_sessions FOR SELECT
    USING (kiln_managed_by_current(user_id));
CREATE POLICY auth_sessions_managed_revoke ON auth_sessions FOR UPDATE
    USING (kiln_managed_by_current(user_id));

-- KL404 unless `p_user` is managed by the current workspace.
CREATE FUNCTION kiln_managed_user_deactivate(p_user uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = p_user AND managed_by_workspace_id = kiln_current_workspace();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such managed user.' USING ERRCODE = 'KL404';
    END IF;
    UPDATE users SET deactivated_at = coalesce(deactivated_at, now()) WHERE id = p_user;
    UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'deactivated'
     WHERE user_id = p_user AND revoked_at IS NULL;
END
$$;
