-- Namespaces own repositories, tokens and (later) policies and webhooks.
CREATE TABLE namespaces (
    id {id},
    name TEXT NOT NULL UNIQUE,
    created_at {int} NOT NULL
);

CREATE TABLE repositories (
    id {id},
    namespace_id {int} NOT NULL REFERENCES namespaces (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    private {int} NOT NULL DEFAULT 1,
    package_count {int} NOT NULL DEFAULT 0,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL,
    UNIQUE (namespace_id, name)
);

-- One row per stored blob; many files may point at one blob.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size {int} NOT NULL,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    created_at {int} NOT NULL
);

CREATE TABLE packages (
    id {id},
    slug_perm TEXT NOT NULL UNIQUE,
    repository_id {int} NOT NULL REFERENCES repositories (id),
    format TEXT NOT NULL,
    name TEXT NOT NULL,
    normalized_name TEXT NOT NULL,
    version TEXT NOT NULL,
    qualifier TEXT NOT NULL DEFAULT '',
    filename TEXT NOT NULL,
    sync_status TEXT NOT NULL,
    sync_progress {int} NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    status_reason TEXT,
    size {int} NOT NULL,
    primary_sha256 TEXT NOT NULL,
    uploader TEXT NOT NULL,
    uploaded_at {int} NOT NULL,
    updated_at {int} NOT NULL,
    origin_repository TEXT NOT NULL,
    origin_slug TEXT,
    origin_slug_repository TEXT,
    scan_status TEXT NOT NULL DEFAULT 'not_scanned',
    max_severity TEXT,
    num_vulnerabilities {int} NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    declared TEXT NOT NULL DEFAULT '{}'
);

-- A repository holds one live package per identity; deleted ones may repeat.
CREATE UNIQUE INDEX packages_identity
    ON packages (repository_id, format, normalized_name, version, qualifier)
    WHERE state <> 'deleted';
CREATE INDEX packages_listing ON packages (repository_id, id);
CREATE INDEX packages_by_name ON packages (repository_id, normalized_name, id);
CREATE INDEX packages_by_state ON packages (state);

CREATE TABLE package_files (
    id {id},
    package_id {int} NOT NULL REFERENCES packages (id),
    position {int} NOT NULL DEFAULT 0,
    filename TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    content_type TEXT NOT NULL
);
CREATE INDEX package_files_package ON package_files (package_id, position);
CREATE INDEX package_files_blob ON package_files (blob_sha256);

CREATE TABLE package_tags (
    package_id {int} NOT NULL REFERENCES packages (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (package_id, tag)
);
CREATE INDEX package_tags_tag ON package_tags (tag, package_id);

-- Append-only: the provenance trail, the audit log and the webhook feed.
CREATE TABLE events (
    id {id},
    event_type TEXT NOT NULL,
    occurred_at {int} NOT NULL,
    actor TEXT NOT NULL,
    namespace TEXT,
    slug_perm TEXT,
    repository TEXT,
    source_repository TEXT,
    destination_repository TEXT,
    checksum_sha256 TEXT,
    source_address TEXT,
    context TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_slug ON events (slug_perm, id);
CREATE INDEX events_by_namespace ON events (namespace, id);

-- Tokens are stored as the sha256 of the secret; `prefix` helps owners recognise them.
CREATE TABLE tokens (
    id {id},
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    description TEXT NOT NULL,
    site_admin {int} NOT NULL DEFAULT 0,
    namespace TEXT,
    repository TEXT,
    privilege TEXT NOT NULL,
    created_at {int} NOT NULL,
    expires_at {int},
    revoked_at {int},
    created_by TEXT
);
