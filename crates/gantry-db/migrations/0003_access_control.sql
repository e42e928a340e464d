-- Principals: users (site-wide, with passwords), and teams and service accounts (each in a
-- namespace). `namespace` is '' for users so that one unique index covers all kinds.
CREATE TABLE principals (
    id {id},
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    password_hash TEXT,
    site_admin {int} NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at {int} NOT NULL,
    UNIQUE (kind, namespace, name)
);

CREATE TABLE team_members (
    team_id {int} NOT NULL REFERENCES principals (id),
    user_id {int} NOT NULL REFERENCES principals (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

-- A privilege of a principal on a namespace (repository '') or one repository.
CREATE TABLE grants (
    id {id},
    principal_id {int} NOT NULL REFERENCES principals (id),
    namespace TEXT NOT NULL,
    repository TEXT NOT NULL DEFAULT '',
    privilege TEXT NOT NULL,
    created_by TEXT,
    created_at {int} NOT NULL,
    UNIQUE (principal_id, namespace, repository)
);
CREATE INDEX grants_by_scope ON grants (namespace, repository);

-- Tokens belong to a principal (NULL: a standalone token whose own scope is its grant) and
-- may narrow it. Entitlements are read-only tokens for one repository with an optional
-- download budget.
ALTER TABLE tokens ADD COLUMN principal_id {int};
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE tokens ADD COLUMN max_downloads {int};
ALTER TABLE tokens ADD COLUMN download_count {int} NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_used_at {int};
CREATE INDEX tokens_by_namespace ON tokens (namespace, id);

ALTER TABLE repositories ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repositories ADD COLUMN ip_denylist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repositories ADD COLUMN permissions TEXT NOT NULL DEFAULT '{}';

CREATE INDEX events_by_time ON events (namespace, occurred_at);
