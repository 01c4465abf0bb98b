-- The job engine: a durable queue in one table, leases, persisted events, workers.
-- docs/jobs.md describes the states and guarantees.
--
-- Requests see their workspace's jobs (tenant policy). Workers act across workspaces: their
-- statements set kiln.worker = 'on' (transaction-local), as the mail sender sets kiln.mailer.

CREATE FUNCTION kiln_worker() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('kiln.worker', true), '') = 'on' $$;

CREATE TABLE jobs (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND length(kind) <= 100),
    queue text NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z][a-z0-9_-]{0,39}$'),
    args jsonb NOT NULL DEFAULT '{}',
    -- Lower runs first, like nice(1): 1 (urgent) … 4 (bulk).
    priority smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    state text NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'succeeded', 'failed', 'dead',
                                         'cancelled')),
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    run_at timestamptz NOT NULL DEFAULT now(),
    -- A claim issues a fresh token; completion is accepted only with the current one.
    lease_token uuid,
    lease_owner text,
    lease_expires_at timestamptz,
    timeout_ms integer NOT NULL CHECK (timeout_ms > 0),
    progress_percent smallint NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    progress_message text NOT NULL DEFAULT '' CHECK (length(progress_message) <= 500),
    progress_detail jsonb NOT NULL DEFAULT '{}',
    result jsonb,
    errors jsonb NOT NULL DEFAULT '[]',  -- one entry per failed attempt: {attempt, error, at}
    unique_key text CHECK (length(unique_key) BETWEEN 1 AND 200),
    unique_until timestamptz,
    cancel_requested_at timestamptz,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    attempted_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (workspace_id, id)
);
-- The claim walks workspaces with available work in id order (a skip scan), then takes each
-- one's next jobs by priority: both read this one index, whatever the queue's length.
CREATE INDEX jobs_available ON jobs (workspace_id, priority, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_running ON jobs (workspace_id, lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_expiring ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('scheduled', 'failed');
CREATE UNIQUE INDEX jobs_unique_key ON jobs (workspace_id, unique_key) WHERE unique_key IS NOT NULL;

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_tenant ON jobs
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
CREATE POLICY jobs_worker ON jobs USING (kiln_worker()) WITH CHECK (kiln_worker());
-- Platform administrators see every queue (/admin/queues, dead jobs) and retry dead jobs.
CREATE POLICY jobs_platform ON jobs USING (kiln_platform_scope()) WITH CHECK (kiln_platform_scope());
-- Workers read the plan of the workspaces whose jobs they claim (concurrency caps).
CREATE POLICY workspaces_worker ON workspaces FOR SELECT USING (kiln_worker());

-- What happened to a job, in order: the source of live progress (SSE, WebSocket) and of its
-- replay after a reconnect (Last-Event-ID). Written by a trigger, so no code path can forget.
CREATE SEQUENCE job_events_id;
CREATE TABLE job_events (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id bigint NOT NULL DEFAULT nextval('job_events_id'),
    job_id uuid NOT NULL,
    type text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, job_id) REFERENCES jobs (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX job_events_job ON job_events (workspace_id, job_id, id);

ALTER TABLE job_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_events FORCE ROW LEVEL SECURITY;
CREATE POLICY job_events_tenant ON job_events
    USING (workspace_id = kiln_current_workspace())
    WITH CHECK (workspace_id = kiln_current_workspace());
CREATE POLICY job_events_worker ON job_events USING (kiln_worker()) WITH CHECK (kiln_worker());
-- A platform administrator's retry of a dead job writes its event (the trigger reads back its id).
CREATE POLICY job_events_platform ON job_events
    USING (kiln_platform_scope()) WITH CHECK (kiln_platform_scope());

-- One event per state change or progress report, and one NOTIFY each (delivered at commit):
-- other processes' subscribers hear it, the workers hear new work.
CREATE FUNCTION kiln_job_event() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ev_type text;
    ev_id bigint;
    payload jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        ev_type := 'job.' || NEW.state;
    ELSIF NEW.state IS DISTINCT FROM OLD.state THEN
        ev_type := 'job.' || NEW.state;
    ELSIF NEW.progress_percent IS DISTINCT FROM OLD.progress_percent
       OR NEW.progress_message IS DISTINCT FROM OLD.progress_message THEN
        ev_type := 'job.progress';
    ELSE
        RETURN NULL;
    END IF;
    payload := jsonb_build_object('job_id', NEW.id, 'kind', NEW.kind, 'state', NEW.state, 'attempt', NEW.attempt,
                                  'progress', jsonb_build_object('percent', NEW.progress_percent,
                                                                 'message', NEW.progress_message));
    INSERT INTO job_events (workspace_id, job_id, type, data)
    VALUES (NEW.workspace_id, NEW.id, ev_type, payload)
    RETURNING id INTO ev_id;
    PERFORM pg_notify('kiln_job_events',
                      json_build_object('workspace_id', NEW.workspace_id, 'id', ev_id, 'type', ev_type,
                                        'data', payload)::text);
    IF NEW.state = 'available' THEN
        PERFORM pg_notify('kiln_jobs', NEW.queue);  -- identical payloads coalesce in one transaction
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_events AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION kiln_job_event();

-- The processes that run jobs, seen by their heartbeats.
CREATE TABLE workers (
    id text PRIMARY KEY CHECK (length(id) <= 200),
    host text NOT NULL,
    pid integer NOT NULL,
    kinds text[] NOT NULL,
    running integer NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE workers ENABLE ROW LEVEL SECURITY;
ALTER TABLE workers FORCE ROW LEVEL SECURITY;
CREATE POLICY workers_worker ON workers USING (kiln_worker()) WITH CHECK (kiln_worker());
CREATE POLICY workers_platform ON workers FOR SELECT USING (kiln_platform_scope());

-- Cancel from the API: a job that waits is cancelled at once; a running one is asked to stop
-- (its worker hears kiln_job_cancel, or sees the request at its next heartbeat). KL404 when
-- the workspace has no such job, KL409 when it has finished. Returns the state it is in now.
CREATE FUNCTION kiln_job_cancel(p_id uuid) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    s text;
BEGIN
    SELECT state INTO s FROM jobs WHERE workspace_id = kiln_current_workspace() AND id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such job.' USING ERRCODE = 'KL404';
    END IF;
    IF s IN ('succeeded', 'dead', 'cancelled') THEN
        RAISE EXCEPTION 'The job has finished (%).', s USING ERRCODE = 'KL409';
    END IF;
    IF s = 'running' THEN
        UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())
         WHERE workspace_id = kiln_current_workspace() AND id = p_id;
        PERFORM pg_notify('kiln_job_cancel', p_id::text);
        RETURN s;
    END IF;
    UPDATE jobs SET state = 'cancelled', finished_at = now()
     WHERE workspace_id = kiln_current_workspace() AND id = p_id;
    RETURN 'cancelled';
END
$$;

-- Retry from the API: a dead, failed or cancelled job runs again now, with one more attempt
-- allowed if it used them all. KL404 / KL409 as above.
CREATE FUNCTION kiln_job_retry(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s text;
BEGIN
    SELECT state INTO s FROM jobs WHERE workspace_id = kiln_current_workspace() AND id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such job.' USING ERRCODE = 'KL404';
    END IF;
    IF s NOT IN ('dead', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'Only a dead, failed or cancelled job can be retried; this one is %.', s
            USING ERRCODE = 'KL409';
    END IF;
    UPDATE jobs
       SET state = 'available', run_at = now(), finished_at = NULL, cancel_requested_at = NULL,
           max_attempts = greatest(max_attempts, attempt + 1)
     WHERE workspace_id = kiln_current_workspace() AND id = p_id;
END
$$;

-- Retention deletes finished jobs oldest first.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'dead', 'cancelled');
