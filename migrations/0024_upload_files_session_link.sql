-- upload_files' link to its session, checked once per statement instead of once per row.
--
-- A foreign key checks each inserted row on its own (a lookup of the session, run through the
-- executor per row): for a scan's 2,000 rows that was 6.5 of the 20 ms of the insert the lanes
-- wait for (measured in isolation, median of eight). These triggers keep what the key kept, with
-- the same error (23503): a file's session exists (and is locked FOR KEY SHARE, as the key did,
-- so that it cannot go or change its id before the insert commits), a session with files is not
-- deleted, a file does not move to another session, and a session keeps its id.
-- Under the tables' policies a statement sees only its workspace's rows, which is where the rows
-- it writes or deletes must be anyway.
ALTER TABLE upload_files DROP CONSTRAINT upload_files_workspace_id_session_id_fkey;

CREATE FUNCTION kiln_upload_files_sessions_exist() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT workspace_id, session_id FROM added) n
                WHERE NOT EXISTS (SELECT 1 FROM upload_sync_sessions s
                                   WHERE s.workspace_id = n.workspace_id AND s.id = n.session_id
                                     FOR KEY SHARE OF s)) THEN
        RAISE EXCEPTION 'insert or update on table "upload_files" violates its link to upload_sync_sessions'
            USING ERRCODE = 'foreign_key_violation', DETAIL = 'The file''s session does not exist.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER upload_files_session_exists AFTER INSERT ON upload_files REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_upload_files_sessions_exist();

CREATE FUNCTION kiln_upload_sessions_without_files() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone g JOIN upload_files f ON f.workspace_id = g.workspace_id AND f.session_id = g.id) THEN
        RAISE EXCEPTION 'delete on table "upload_sync_sessions" violates the link from upload_files'
            USING ERRCODE = 'foreign_key_violation', DETAIL = 'The session still has files.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER upload_sync_sessions_files_kept AFTER DELETE ON upload_sync_sessions REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION kiln_upload_sessions_without_files();

CREATE FUNCTION kiln_upload_link_fixed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'update on table "%" would break the link between upload_files and upload_sync_sessions',
        TG_TABLE_NAME USING ERRCODE = 'foreign_key_violation';
END
$$;
CREATE TRIGGER upload_files_session_fixed BEFORE UPDATE OF workspace_id, session_id ON upload_files
    FOR EACH ROW WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.session_id IS DISTINCT FROM NEW.session_id)
    EXECUTE FUNCTION kiln_upload_link_fixed();
CREATE TRIGGER upload_sync_sessions_key_fixed BEFORE UPDATE OF workspace_id, id ON upload_sync_sessions
    FOR EACH ROW WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION kiln_upload_link_fixed();
