-- Mail outbox, single-use account tokens (password reset, email verification) and workspace
-- invitations.
--
-- Mail is inserted by the same statement batch as the change that causes it, so a message
-- exists if and only if that change committed. The sender claims rows with FOR UPDATE SKIP
-- LOCKED and a lease (next_attempt_at moved past the delivery), so any number of `kiln serve`
-- processes share the outbox and a crash mid-delivery only delays a message.

-- The sender alone reads and updates the outbox: its statements set kiln.mailer = 'on'
-- (transaction-local), as sign-in sets kiln.identity.
CREATE FUNCTION kiln_mailer() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('kiln.mailer', true), '') = 'on' $$;

-- Identity-level, like users: a message goes to an address, not to a workspace.
CREATE TABLE mail_outbox (
    id uuid PRIMARY KEY,
    recipient text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254 AND recipient !~ '[\r\n]'),
    subject text NOT NULL CHECK (length(subject) <= 400 AND subject !~ '[\r\n]'),
    -- Holds a live link until delivered; emptied once the message is sent or given up.
    body text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE status = 'pending';

ALTER TABLE mail_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_outbox FORCE ROW LEVEL SECURITY;
-- Anyone acting for a known user (or signing in) may queue mail; nobody but the sender sees it.
CREATE POLICY mail_outbox_enqueue ON mail_outbox FOR INSERT
    WITH CHECK (kiln_current_user() IS NOT NULL OR kiln_identity_lookup());
CREATE POLICY mail_outbox_sender ON mail_outbox
    USING (kiln_mailer()) WITH CHECK (kiln_mailer());

-- Wakes the senders when the inserting transaction commits (NOTIFY is transactional).
CREATE FUNCTION kiln_mail_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify('kiln_mail', ''); RETURN NULL; END $$;
CREATE TRIGGER mail_outbox_notify AFTER INSERT ON mail_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_mail_notify();

-- Password-reset and email-verification tokens: only the SHA-256 is stored; a token is spent
-- once. Identity-level like refresh tokens.
CREATE TABLE user_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id uuid NOT NULL REFERENCES users (id),
    purpose text NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
    email text NOT NULL,  -- the address the token was mailed to
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at timestamptz
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose) WHERE spent_at IS NULL;

ALTER TABLE user_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY user_tokens_own ON user_tokens
    USING (user_id = kiln_current_user() OR kiln_identity_lookup());

-- KL400 for an unknown token, KL410 for a spent or expired one; else the token's row.
CREATE FUNCTION kiln_user_token_check(p_hash bytea, p_purpose text) RETURNS user_tokens
    LANGUAGE plpgsql
    AS $$
DECLARE
    t user_tokens;
BEGIN
    SELECT * INTO t FROM user_tokens WHERE token_hash = p_hash AND purpose = p_purpose FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The link is not valid.' USING ERRCODE = 'KL400';
    END IF;
    IF t.spent_at IS NOT NULL THEN
        RAISE EXCEPTION 'The link was used already.' USING ERRCODE = 'KL410';
    END IF;
    IF t.expires_at <= now() THEN
        RAISE EXCEPTION 'The link has expired; ask for a new one.' USING ERRCODE = 'KL410';
    END IF;
    RETURN t;
END
$$;

-- Spends a reset token and sets the password: every reset token of the user is spent, every
-- session ends, and the address counts as verified (the mail reached it). Returns the user.
CREATE FUNCTION kiln_password_reset(p_hash bytea, p_password_hash text) RETURNS uuid
    LANGUAGE plpgsql
    AS $$
DECLARE
    t user_tokens;
BEGIN
    t := kiln_user_token_check(p_hash, 'password_reset');
    UPDATE users SET password_hash = p_password_hash, must_change_password = false,
                     email_verified_at = coalesce(email_verified_at, now())
     WHERE id = t.user_id AND deactivated_at IS NULL AND email = t.email;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The link is not valid.' USING ERRCODE = 'KL400';
    END IF;
    UPDATE user_tokens SET spent_at = now()
     WHERE user_id = t.user_id AND purpose = 'password_reset' AND spent_at IS NULL;
    UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'password_reset'
     WHERE user_id = t.user_id AND revoked_at IS NULL;
    RETURN t.user_id;
END
$$;

-- Spends a verification token; the address is verified only if it is still the account's.
CREATE FUNCTION kiln_verify_email(p_hash bytea) RETURNS uuid
    LANGUAGE plpgsql
    AS $$
DECLARE
    t user_tokens;
BEGIN
    t := kiln_user_token_check(p_hash, 'email_verify');
    UPDATE user_tokens SET spent_at = now() WHERE token_hash = p_hash;
    UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
     WHERE id = t.user_id AND email = t.email;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The link is not valid.' USING ERRCODE = 'KL400';
    END IF;
    RETURN t.user_id;
END
$$;

-- Workspace invitations: a tenant table. Accepting happens before the acceptor is a member, so
-- one more policy shows a row to whoever holds its token: the accepting statement sets
-- kiln.invitation (the token's SHA-256, hex) and sees that one invitation and no other.
CREATE FUNCTION kiln_invitation_hash() RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT decode(nullif(current_setting('kiln.invitation', true), ''), 'hex') $$;

CREATE TABLE invitations (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    invited_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id),
    revoked_at timestamptz,
    PRIMARY KEY (workspace_id, id)
);
-- Not unique: a unique key would have to lead with workspace_id (Citus); 32 random bytes do not collide.
CREATE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_pending ON invitations (workspace_id, id DESC) WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
CREATE POLICY invitations_by_token ON invitations FOR SELECT
    USING (token_hash = kiln_invitation_hash());

-- KL409 when an account with `p_email` is already a member of the current workspace.
CREATE FUNCTION kiln_invitation_check(p_email text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                WHERE m.workspace_id = kiln_current_workspace() AND u.email = p_email) THEN
        RAISE EXCEPTION 'An account with this email is a member already.' USING ERRCODE = 'KL409';
    END IF;
    RETURN true;
END
$$;

-- Accepts the invitation named by kiln.invitation for the current user, whose email must be the
-- invited one. Moves the transaction into the invitation's workspace (kiln.workspace_id), so the
-- statements after it (the membership, the audit event) are checked by that workspace's
-- policies. KL400 unknown, KL410 spent/revoked/expired, KL403 another address, KL409 a member
-- already.
CREATE FUNCTION kiln_invitation_accept(OUT workspace_id uuid, OUT role text, OUT invitation_id uuid,
                                       OUT workspace_name text)
    LANGUAGE plpgsql
    AS $$
DECLARE
    inv invitations;
    me text;
BEGIN
    SELECT * INTO inv FROM invitations i WHERE i.token_hash = kiln_invitation_hash();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The invitation is not valid.' USING ERRCODE = 'KL400';
    END IF;
    IF inv.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'The invitation was revoked.' USING ERRCODE = 'KL410';
    END IF;
    IF inv.accepted_at IS NOT NULL THEN
        RAISE EXCEPTION 'The invitation was used already.' USING ERRCODE = 'KL410';
    END IF;
    IF inv.expires_at <= now() THEN
        RAISE EXCEPTION 'The invitation has expired; ask for a new one.' USING ERRCODE = 'KL410';
    END IF;
    SELECT email INTO me FROM users WHERE id = kiln_current_user();
    IF me IS DISTINCT FROM inv.email THEN
        RAISE EXCEPTION 'The invitation was sent to another email address.' USING ERRCODE = 'KL403';
    END IF;
    PERFORM set_config('kiln.workspace_id', inv.workspace_id::text, true);
    SELECT w.name INTO workspace_name FROM workspaces w WHERE w.id = inv.workspace_id AND w.deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The invitation is not valid.' USING ERRCODE = 'KL400';
    END IF;
    IF EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = inv.workspace_id AND m.user_id = kiln_current_user()) THEN
        RAISE EXCEPTION 'You are a member of this workspace already.' USING ERRCODE = 'KL409';
    END IF;
    INSERT INTO memberships (workspace_id, user_id, role) VALUES (inv.workspace_id, kiln_current_user(), inv.role);
    -- The invitation mail reached the address.
    UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = kiln_current_user();
    -- Spent under the tenant policy (the workspace is now the current one): concurrent accepts
    -- of one token serialize on the row, and the second finds it accepted.
    UPDATE invitations i SET accepted_at = now(), accepted_by = kiln_current_user()
     WHERE i.workspace_id = inv.workspace_id AND i.id = inv.id AND i.accepted_at IS NULL AND i.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The invitation was used already.' USING ERRCODE = 'KL410';
    END IF;
    workspace_id := inv.workspace_id;
    role := inv.role;
    invitation_id := inv.id;
END
$$;

-- Revokes a pending invitation of the current workspace; KL404 for any other.
CREATE FUNCTION kiln_invitation_revoke(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE invitations SET revoked_at = now()
     WHERE workspace_id = kiln_current_workspace() AND id = p_id AND accepted_at IS NULL AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such pending invitation.' USING ERRCODE = 'KL404';
    END IF;
END
$$;
