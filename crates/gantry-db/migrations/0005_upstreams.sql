-- Remote repositories a repository proxies (and optionally caches) for one format.
CREATE TABLE upstreams (
    id {id},
    repository_id {int} NOT NULL REFERENCES repositories (id),
    format TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    priority {int} NOT NULL DEFAULT 1,
    mode TEXT NOT NULL,
    username TEXT,
    password TEXT,
    index_ttl_seconds {int} NOT NULL DEFAULT 300,
    local_names_only {int} NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at {int} NOT NULL,
    UNIQUE (repository_id, format, name)
);

-- Parsed index pages of upstreams, kept to serve while an upstream is down.
CREATE TABLE upstream_cache (
    upstream_id {int} NOT NULL REFERENCES upstreams (id),
    cache_key TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at {int} NOT NULL,
    PRIMARY KEY (upstream_id, cache_key)
);

-- Where a package came from: an upload, or an upstream it was cached from.
ALTER TABLE packages ADD COLUMN source TEXT NOT NULL DEFAULT 'upload';
ALTER TABLE packages ADD COLUMN upstream_name TEXT;
