-- Rego policies of a namespace. `version` grows with every change of the source, so a logged
-- decision names exactly the text it was made with.
CREATE TABLE policies (
    id {id},
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    rego TEXT NOT NULL,
    enabled {int} NOT NULL DEFAULT 1,
    precedence {int} NOT NULL DEFAULT 100,
    version {int} NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL,
    UNIQUE (namespace, name)
);

-- Every evaluation of a policy (or of a rule's gate), append-only.
CREATE TABLE policy_decisions (
    id {id},
    namespace TEXT NOT NULL,
    policy_id {int},
    policy_name TEXT NOT NULL,
    policy_version {int} NOT NULL,
    trigger_event TEXT NOT NULL,
    slug_perm TEXT,
    repository TEXT,
    destination TEXT,
    input_digest TEXT NOT NULL,
    denied {int} NOT NULL,
    output TEXT NOT NULL,
    actions TEXT NOT NULL,
    error TEXT,
    actor TEXT NOT NULL,
    occurred_at {int} NOT NULL
);
CREATE INDEX policy_decisions_by_namespace ON policy_decisions (namespace, id);
CREATE INDEX policy_decisions_by_policy ON policy_decisions (policy_id, id);
CREATE INDEX policy_decisions_by_slug ON policy_decisions (slug_perm, id);

-- Built-in promotion rules: when a package of the repository reaches `on_event` and matches
-- the condition, promote it to the destination through the gate.
CREATE TABLE promotion_rules (
    id {id},
    repository_id {int} NOT NULL REFERENCES repositories (id),
    name TEXT NOT NULL,
    on_event TEXT NOT NULL,
    condition_kind TEXT NOT NULL,
    condition TEXT NOT NULL,
    action TEXT NOT NULL,
    destination_repository_id {int} NOT NULL REFERENCES repositories (id),
    enabled {int} NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at {int} NOT NULL,
    UNIQUE (repository_id, name)
);
