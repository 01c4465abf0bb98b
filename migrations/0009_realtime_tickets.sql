-- Realtime tickets: a browser's EventSource and WebSocket cannot send an Authorization header,
-- so it trades its credential for a short-lived, single-use ticket (POST /api/v1/realtime/tickets)
-- and names that in the URL (?ticket=…) instead of a long-lived token.
--
-- Only the SHA-256 of a ticket is stored, with what rebuilds the caller's principal. The
-- application role may only add tickets (for the caller itself, under the tenant policy); it can
-- neither read nor change nor delete them: a ticket is spent by kiln_realtime_ticket_redeem alone,
-- which deletes it, so of two processes presenting one ticket at the same moment exactly one wins.
CREATE TABLE realtime_tickets (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    user_id uuid NOT NULL REFERENCES users (id),
    -- The access token's session, or the API key's id when api_key: checked live again by every
    -- statement the ticket's holder runs, as for the credential itself.
    credential_id uuid NOT NULL,
    api_key boolean NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, token_hash)
);
-- Redemption knows the hash, not the workspace. Not unique: a unique key would have to lead with
-- workspace_id (Citus); 32 random bytes do not collide.
CREATE INDEX realtime_tickets_token ON realtime_tickets (token_hash);
CREATE INDEX realtime_tickets_expiry ON realtime_tickets (expires_at);

ALTER TABLE realtime_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime_tickets FORCE ROW LEVEL SECURITY;
-- A caller issues tickets for itself, in its own workspace.
CREATE POLICY realtime_tickets_issue ON realtime_tickets FOR INSERT
    WITH CHECK (workspace_id = kiln_current_workspace() AND user_id = kiln_current_user());
-- The owner (this role, which the redeeming function runs as) spends and sweeps them.
CREATE POLICY realtime_tickets_redeem ON realtime_tickets TO CURRENT_USER
    USING (true) WITH CHECK (true);

-- Spends a ticket: deletes it and returns its principal when it had not expired (no row for an
-- unknown, spent or expired ticket). Each call also sweeps a bounded number of expired tickets,
-- so tickets that were never redeemed do not pile up.
CREATE FUNCTION kiln_realtime_ticket_redeem(p_hash bytea)
    RETURNS TABLE (workspace_id uuid, user_id uuid, credential_id uuid, api_key boolean, role text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t realtime_tickets;
BEGIN
    DELETE FROM realtime_tickets r WHERE r.token_hash = p_hash RETURNING r.* INTO t;
    DELETE FROM realtime_tickets r
     WHERE r.ctid = ANY (ARRAY(SELECT x.ctid FROM realtime_tickets x WHERE x.expires_at <= now()
                                ORDER BY x.expires_at LIMIT 100 FOR UPDATE SKIP LOCKED));
    IF t.token_hash IS NULL OR t.expires_at <= now() THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT t.workspace_id, t.user_id, t.credential_id, t.api_key, t.role;
END
$$;

-- The default privileges gave the application role SELECT, UPDATE and DELETE like on every
-- table: taken back here (migrate names the role in kiln.app_role). Only it may redeem.
DO $$
DECLARE
    app text := current_setting('kiln.app_role');
BEGIN
    EXECUTE format('REVOKE SELECT, UPDATE, DELETE ON realtime_tickets FROM %I', app);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION kiln_realtime_ticket_redeem(bytea) FROM PUBLIC');
    EXECUTE format('GRANT EXECUTE ON FUNCTION kiln_realtime_ticket_redeem(bytea) TO %I', app);
END
$$;
