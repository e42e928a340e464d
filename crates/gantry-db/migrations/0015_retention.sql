-- Retention rules of a repository: which packages a scheduled round soft-deletes. A rule keeps
-- the newest `keep_last` packages of each name and/or deletes those uploaded more than
-- `older_than_days` ago, among the packages matching `query` (the listing's syntax; empty:
-- all). `protect_promoted` keeps packages that have a live copy in another repository.
CREATE TABLE retention_rules (
    id {id},
    repository_id {int} NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    keep_last {int},
    older_than_days {int},
    query TEXT NOT NULL,
    protect_promoted {int} NOT NULL,
    created_by TEXT NOT NULL,
    created_at {int} NOT NULL,
    UNIQUE (repository_id, name)
);
