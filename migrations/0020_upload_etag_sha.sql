-- What a large object kiln sent holds, by the ETag and size the store gave it. S3 takes an
-- object's metadata before its bytes, so a large file's SHA-256 could only be in it by reading the
-- file twice (hashed, then sent). A sync instead sends it once and records its SHA-256 with the
-- ETag (upload_files, as ever); a later sync that finds an object of that ETag and size without
-- the metadata reads its SHA-256 here, and skips the file when it is the same. Only large files are
-- put without the metadata, so only they are indexed (5 MiB: S3's smallest part, the least
-- storage.s3.part_size may be).
CREATE INDEX upload_files_etag ON upload_files (workspace_id, etag, size_bytes)
    WHERE etag IS NOT NULL AND sha256 IS NOT NULL AND size_bytes >= 5242880 AND status IN ('uploaded', 'skipped');
