-- Batches (a parent job and its children), cron schedules run by one leader, and the table
-- that diagnostic jobs record their side effects in. docs/jobs.md.

-- A batch parent waits in `scheduled` with run_at = infinity until every child has ended; the
-- counters below say how they ended. Then it becomes available and its own handler runs (the
-- built-in kind `batch` just returns the counts). Children are deleted with their parent.
ALTER TABLE jobs
    ADD COLUMN parent_id uuid,
    ADD COLUMN batch_total integer NOT NULL DEFAULT 0 CHECK (batch_total >= 0),
    ADD COLUMN batch_succeeded integer NOT NULL DEFAULT 0,
    ADD COLUMN batch_dead integer NOT NULL DEFAULT 0,
    ADD COLUMN batch_cancelled integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT jobs_parent FOREIGN KEY (workspace_id, parent_id) REFERENCES jobs (workspace_id, id)
        ON DELETE CASCADE;
CREATE INDEX jobs_children ON jobs (workspace_id, parent_id, id) WHERE parent_id IS NOT NULL;
-- Retention deletes top-level jobs; children go with their parent.
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('succeeded', 'dead', 'cancelled') AND parent_id IS NULL;
-- Per-kind concurrency caps count what runs of a kind, across workspaces.
CREATE INDEX jobs_running_kind ON jobs (kind) WHERE state = 'running';

-- A child that ends (or, retried, ends no longer) updates its parent's counters and progress;
-- the last one to end makes the parent available. Locks go child first, then parent — the
-- order kiln_job_cancel keeps too.
CREATE FUNCTION kiln_job_batch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    was_final boolean := OLD.state IN ('succeeded', 'dead', 'cancelled');
    is_final boolean := NEW.state IN ('succeeded', 'dead', 'cancelled');
    d integer;
    s text;
    p jobs%ROWTYPE;
    done integer;
BEGIN
    IF was_final = is_final THEN
        RETURN NULL;
    END IF;
    IF is_final THEN
        d := 1;
        s := NEW.state;
    ELSE
        d := -1;
        s := OLD.state;
    END IF;
    SELECT * INTO p FROM jobs WHERE workspace_id = NEW.workspace_id AND id = NEW.parent_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    p.batch_succeeded := p.batch_succeeded + CASE WHEN s = 'succeeded' THEN d ELSE 0 END;
    p.batch_dead := p.batch_dead + CASE WHEN s = 'dead' THEN d ELSE 0 END;
    p.batch_cancelled := p.batch_cancelled + CASE WHEN s = 'cancelled' THEN d ELSE 0 END;
    done := p.batch_succeeded + p.batch_dead + p.batch_cancelled;
    UPDATE jobs
       SET batch_succeeded = p.batch_succeeded, batch_dead = p.batch_dead, batch_cancelled = p.batch_cancelled,
           progress_percent = CASE WHEN p.run_at = 'infinity' THEN (done * 100 / greatest(p.batch_total, 1))
                                   ELSE progress_percent END,
           progress_message = CASE WHEN p.run_at = 'infinity'
                                   THEN format('%s of %s children done', done, p.batch_total)
                                   ELSE progress_message END,
           state = CASE WHEN p.state = 'scheduled' AND p.run_at = 'infinity' AND done >= p.batch_total
                        THEN 'available' ELSE state END,
           run_at = CASE WHEN p.state = 'scheduled' AND p.run_at = 'infinity' AND done >= p.batch_total
                         THEN now() ELSE run_at END
     WHERE workspace_id = p.workspace_id AND id = p.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_batch AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION kiln_job_batch();

-- Cancel, now cascading to a batch's children: those that wait are cancelled at once, those
-- that run are asked to stop. Children are locked before their parent (see kiln_job_batch).
CREATE OR REPLACE FUNCTION kiln_job_cancel(p_id uuid) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    s text;
    r record;
BEGIN
    PERFORM 1 FROM jobs WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id ORDER BY id FOR UPDATE;
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
    UPDATE jobs SET state = 'cancelled', finished_at = now()
     WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id
       AND state IN ('scheduled', 'available', 'failed');
    FOR r IN UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())
              WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id AND state = 'running'
          RETURNING id
    LOOP
        PERFORM pg_notify('kiln_job_cancel', r.id::text);
    END LOOP;
    RETURN 'cancelled';
END
$$;

-- Retry, now of a batch too: a batch parent whose children did not all succeed waits again
-- while those that ended dead, failed or cancelled run again (children still stopping after a
-- cancel end as they end). Locks children first, as above.
CREATE OR REPLACE FUNCTION kiln_job_retry(p_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    s text;
    total integer;
    again integer;
BEGIN
    PERFORM 1 FROM jobs WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id ORDER BY id FOR UPDATE;
    SELECT state, batch_total INTO s, total FROM jobs
     WHERE workspace_id = kiln_current_workspace() AND id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such job.' USING ERRCODE = 'KL404';
    END IF;
    IF s NOT IN ('dead', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'Only a dead, failed or cancelled job can be retried; this one is %.', s
            USING ERRCODE = 'KL409';
    END IF;
    SELECT count(*) INTO again FROM jobs
     WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id AND state <> 'succeeded';
    IF total > 0 AND again > 0 THEN
        UPDATE jobs
           SET state = 'scheduled', run_at = 'infinity', finished_at = NULL, cancel_requested_at = NULL,
               max_attempts = greatest(max_attempts, attempt + 1)
         WHERE workspace_id = kiln_current_workspace() AND id = p_id;
        UPDATE jobs
           SET state = 'available', run_at = now(), finished_at = NULL, cancel_requested_at = NULL,
               max_attempts = greatest(max_attempts, attempt + 1)
         WHERE workspace_id = kiln_current_workspace() AND parent_id = p_id AND state IN ('dead', 'failed', 'cancelled');
        RETURN;
    END IF;
    UPDATE jobs
       SET state = 'available', run_at = now(), finished_at = NULL, cancel_requested_at = NULL,
           max_attempts = greatest(max_attempts, attempt + 1)
     WHERE workspace_id = kiln_current_workspace() AND id = p_id;
END
$$;

-- Cron schedules: built-in tasks (retention, …) registered in code, fired by the one worker
-- that holds the leader lock (a session advisory lock: it frees when that worker's connection
-- ends, and another worker takes over). `runs` guards each firing, so an occurrence fires once.
CREATE TABLE job_schedules (
    name text PRIMARY KEY CHECK (length(name) <= 100),
    cron text NOT NULL CHECK (length(cron) <= 200),
    time_zone text NOT NULL CHECK (length(time_zone) <= 100),
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz,
    last_error text,
    runs bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE job_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY job_schedules_worker ON job_schedules USING (kiln_worker()) WITH CHECK (kiln_worker());
CREATE POLICY job_schedules_platform ON job_schedules USING (kiln_platform_scope()) WITH CHECK (kiln_platform_scope());

-- Who leads now (written by the leader when it takes the lock; for operators).
CREATE TABLE job_leader (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    worker text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE job_leader ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_leader FORCE ROW LEVEL SECURITY;
CREATE POLICY job_leader_worker ON job_leader USING (kiln_worker()) WITH CHECK (kiln_worker());
CREATE POLICY job_leader_platform ON job_leader FOR SELECT USING (kiln_platform_scope());

-- The leader recorded in job_leader, if its lock is still held in this database (a leader that
-- died leaves its row behind until another takes over).
CREATE FUNCTION kiln_job_leader() RETURNS text
    LANGUAGE sql STABLE
    AS $$
SELECT l.worker FROM job_leader l
 WHERE EXISTS (SELECT 1 FROM pg_locks k
                WHERE k.locktype = 'advisory' AND k.granted AND k.classid = 107 AND k.objid = 1768713729
                  AND k.objsubid = 1
                  AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- The side effects of the diagnostic kind system.effect, committed with its job's completion:
-- one row per job, ever (the exactly-once test counts them).
CREATE TABLE job_effects (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    job_id uuid NOT NULL,
    attempt integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, job_id)
);
ALTER TABLE job_effects ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_effects FORCE ROW LEVEL SECURITY;
CREATE POLICY job_effects_tenant ON job_effects FOR SELECT USING (workspace_id = kiln_current_workspace());
CREATE POLICY job_effects_worker ON job_effects USING (kiln_worker()) WITH CHECK (kiln_worker());
