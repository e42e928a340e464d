-- OCI images. A manifest is a package (its files: the manifest, then every blob and child
-- manifest it references, each named by its digest), so promotion carries the whole graph.
-- These tables hold what exists before a manifest refers to it. They name repositories by id
-- without a foreign key: deleting a repository (core code, which knows no format's tables)
-- leaves its rows behind, harmless since repository ids are never reused.

-- Blobs pushed to an image of a repository (or mounted from another), by digest: the blob
-- store is addressed by sha256, a digest may be sha512. A link keeps its blob from garbage
-- collection until the link is deleted.
CREATE TABLE oci_blob_links (
    repository_id {int} NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    created_at {int} NOT NULL,
    PRIMARY KEY (repository_id, name, digest)
);
CREATE INDEX oci_blob_links_blob ON oci_blob_links (blob_sha256);

-- Upload sessions. Each chunk is stored as an object of the blob store (so any replica can
-- take the next chunk), listed in order; the session owns its chunks until it ends.
CREATE TABLE oci_uploads (
    id TEXT PRIMARY KEY,
    repository_id {int} NOT NULL,
    name TEXT NOT NULL,
    size {int} NOT NULL DEFAULT 0,
    chunks {int} NOT NULL DEFAULT 0,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL
);

CREATE TABLE oci_upload_chunks (
    upload_id TEXT NOT NULL,
    position {int} NOT NULL,
    blob_sha256 TEXT NOT NULL,
    size {int} NOT NULL,
    PRIMARY KEY (upload_id, position)
);
CREATE INDEX oci_upload_chunks_blob ON oci_upload_chunks (blob_sha256);
