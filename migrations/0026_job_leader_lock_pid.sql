-- The leader named by kiln_job_leader() is the one whose connection holds the leader lock now.
--
-- Until now it was the worker in job_leader whenever *some* session held the lock: in the moment
-- after a new leader took the lock and before it rewrote the row, the dead leader was named (an
-- operator's view, or a test, saw a leader that was gone). The row now carries the server process
-- of the lock's connection, and the lock must be held by that process. A row written before this
-- migration has no process and names nobody until its leader writes it again.
ALTER TABLE job_leader ADD COLUMN lock_pid integer;

CREATE OR REPLACE FUNCTION kiln_job_leader() RETURNS text
    LANGUAGE sql STABLE
    AS $$
SELECT l.worker FROM job_leader l
 WHERE EXISTS (SELECT 1 FROM pg_locks k
                WHERE k.locktype = 'advisory' AND k.granted AND k.classid = 107 AND k.objid = 1768713729
                  AND k.objsubid = 1 AND k.pid = l.lock_pid
                  AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;
