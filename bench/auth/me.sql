-- pgbench script: what kiln sends for one GET /api/v1/auth/me (src/db/transaction.cpp run() with
-- the pipeline on, src/auth/store.cpp Store::user): the tenant scope, the session check and the
-- user query, in one pipeline with one Sync, i.e. one implicit transaction and one round trip.
-- :sid, :uid and :wid are replaced by run.sh with one account's variables (-D sid_N=… etc.).
-- Kiln sends every value as a parameter; two are literals here because pgbench's -D cannot
-- define an empty string or NULL: kiln.identity's '' and the session check's NULL minimum role.
\startpipeline
SELECT set_config('kiln.workspace_id', coalesce(:wid, ''), true),
       set_config('kiln.user_id', coalesce(:uid, ''), true),
       set_config('kiln.identity', '', true);
SELECT kiln_require_session(:sid, NULL);
SELECT u.id, u.email, u.username, u.name, u.email_verified_at IS NOT NULL, u.is_platform_admin,
       u.must_change_password, kiln_rfc3339(u.created_at), w.id, w.name, m.role
  FROM users u
  JOIN memberships m ON m.user_id = u.id AND m.workspace_id = :wid
  JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
 WHERE u.id = :uid;
\endpipeline
