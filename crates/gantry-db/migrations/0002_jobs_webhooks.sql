-- Durable job queue. A job is enqueued in the transaction of the change that causes it and
-- claimed by one worker at a time; a claim is a lease renewed by heartbeats, so a job whose
-- worker died is claimed again once its lease runs out.
CREATE TABLE jobs (
    id {id},
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts {int} NOT NULL DEFAULT 0,
    max_attempts {int} NOT NULL,
    run_at {int} NOT NULL,
    locked_by TEXT,
    locked_until {int},
    last_error TEXT,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at, id);

CREATE TABLE webhooks (
    id {id},
    repository_id {int} NOT NULL REFERENCES repositories (id),
    repository TEXT NOT NULL,
    target_url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT,
    package_query TEXT,
    extra_header_name TEXT,
    extra_header_value TEXT,
    is_active {int} NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    consecutive_failures {int} NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL
);
CREATE INDEX webhooks_by_repository ON webhooks (repository, is_active);

CREATE TABLE webhook_deliveries (
    id {id},
    delivery_uuid TEXT NOT NULL UNIQUE,
    webhook_id {int} NOT NULL REFERENCES webhooks (id),
    event_id {int},
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts {int} NOT NULL DEFAULT 0,
    last_status_code {int},
    last_error TEXT,
    created_at {int} NOT NULL,
    updated_at {int} NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id {id},
    delivery_id {int} NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at {int} NOT NULL,
    status_code {int},
    latency_ms {int} NOT NULL,
    response_excerpt TEXT,
    error TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
