-- Foundation: helpers every tenant table uses.
--
-- Row-level security policies read the tenant from the transaction-local setting that
-- db::TenantScope sets; an unset or empty setting matches no workspace.
CREATE FUNCTION kiln_current_workspace() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('kiln.workspace_id', true), '')::uuid $$;

CREATE FUNCTION kiln_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('kiln.user_id', true), '')::uuid $$;

-- Keeps updated_at honest whatever the statement forgot.
CREATE FUNCTION kiln_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
