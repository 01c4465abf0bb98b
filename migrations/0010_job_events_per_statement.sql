-- Job events written once per statement instead of once per row (docs/jobs.md, "Events").
-- A claim or a batched completion changes tens of jobs in one statement: the row trigger ran
-- PL/pgSQL, an INSERT and a NOTIFY per job — with its foreign-key checks, 60 % of PostgreSQL's
-- time per no-op job (bench/jobs). Now each statement inserts all its events in one INSERT and
-- sends them in as few notifications as fit PostgreSQL's 8000-byte payload limit, each a JSON
-- array of events.

DROP TRIGGER jobs_events ON jobs;
DROP FUNCTION kiln_job_event();

-- Events are only ever written by the trigger below from the jobs row itself, so the foreign keys
-- checked nothing that could be wrong and cost two lookups (one a KEY SHARE lock on the
-- workspace row that every concurrent worker transaction shared) per event. Retention deletes a
-- job's events with the job (src/jobs/store.cpp, kRetention).
ALTER TABLE job_events DROP CONSTRAINT job_events_workspace_id_fkey;
ALTER TABLE job_events DROP CONSTRAINT job_events_workspace_id_job_id_fkey;

-- One event's data, as clients see it.
CREATE FUNCTION kiln_job_event_data(id uuid, kind text, state text, attempt integer, percent smallint,
                                     message text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT jsonb_build_object('job_id', id, 'kind', kind, 'state', state, 'attempt', attempt,
                              'progress', jsonb_build_object('percent', percent, 'message', message))
$$;

-- Each trigger is one statement (a PL/pgSQL statement costs a round of SPI, which a single-row
-- enqueue feels): it inserts the events and sends them on kiln_job_events as JSON arrays —
-- each holds the events that start within 3,500 bytes of its first, and an event is at most
-- ~3.2 KB (its progress message ≤ 500 characters, JSON-escaped), so a payload stays under the
-- 8000-byte limit — then wakes the workers of the queues that got work.
CREATE FUNCTION kiln_job_events_inserted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    sent bigint;
BEGIN
    WITH ev AS (
        INSERT INTO job_events (workspace_id, job_id, type, data)
        SELECT n.workspace_id, n.id, 'job.' || n.state,
               kiln_job_event_data(n.id, n.kind, n.state, n.attempt, n.progress_percent, n.progress_message)
          FROM new_rows n
         ORDER BY n.id
        RETURNING id, json_build_object('workspace_id', workspace_id, 'id', id, 'type', type, 'data', data)::text AS e),
    chunked AS (
        SELECT e, id, (sum(octet_length(e) + 1) OVER (ORDER BY id) - octet_length(e) - 1) / 3500 AS chunk FROM ev),
    payloads AS (
        SELECT '[' || string_agg(e, ',' ORDER BY id) || ']' AS payload FROM chunked GROUP BY chunk),
    queues AS (
        SELECT DISTINCT n.queue FROM new_rows n WHERE n.state = 'available')
    SELECT (SELECT count(pg_notify('kiln_job_events', payload)) FROM payloads)
         + (SELECT count(pg_notify('kiln_jobs', queue)) FROM queues)
      INTO sent;
    RETURN NULL;
END
$$;

-- A state change is one event (job.<state>), a progress report without one is job.progress;
-- other updates (heartbeats, batch counters alone) are none.
CREATE FUNCTION kiln_job_events_updated() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    sent bigint;
BEGIN
    WITH changed AS (
        SELECT n.workspace_id, n.id, n.queue, o.state AS old_state, n.state,
               CASE WHEN n.state IS DISTINCT FROM o.state THEN 'job.' || n.state ELSE 'job.progress' END AS type,
               kiln_job_event_data(n.id, n.kind, n.state, n.attempt, n.progress_percent, n.progress_message) AS data
          FROM new_rows n JOIN old_rows o ON o.workspace_id = n.workspace_id AND o.id = n.id
         WHERE n.state IS DISTINCT FROM o.state
            OR n.progress_percent IS DISTINCT FROM o.progress_percent
            OR n.progress_message IS DISTINCT FROM o.progress_message),
    ev AS (
        INSERT INTO job_events (workspace_id, job_id, type, data)
        SELECT c.workspace_id, c.id, c.type, c.data
          FROM changed c
         ORDER BY c.id
        RETURNING id, json_build_object('workspace_id', workspace_id, 'id', id, 'type', type, 'data', data)::text AS e),
    chunked AS (
        SELECT e, id, (sum(octet_length(e) + 1) OVER (ORDER BY id) - octet_length(e) - 1) / 3500 AS chunk FROM ev),
    payloads AS (
        SELECT '[' || string_agg(e, ',' ORDER BY id) || ']' AS payload FROM chunked GROUP BY chunk),
    queues AS (
        SELECT DISTINCT c.queue FROM changed c WHERE c.state = 'available' AND c.old_state <> 'available')
    SELECT (SELECT count(pg_notify('kiln_job_events', payload)) FROM payloads)
         + (SELECT count(pg_notify('kiln_jobs', queue)) FROM queues)
      INTO sent;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_events_inserted AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_job_events_inserted();
CREATE TRIGGER jobs_events_updated AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_job_events_updated();
