-- The store's listing of a sync's key prefix, taken by its scan: a file whose key was not listed
-- is put without a HEAD first (S3: one request per new file instead of two). Only a hint — a
-- file put needlessly is the same bytes again — so nothing resets it.
ALTER TABLE upload_files ADD COLUMN key_absent boolean NOT NULL DEFAULT false;
