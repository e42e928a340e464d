-- Web sessions. The cookie holds a random secret; only its sha256 is stored. A session acts
-- with one API token (its privileges are the token's); `owns_token` marks a token minted by a
-- password sign-in, revoked at sign-out.
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    token_id {int} NOT NULL,
    owns_token {int} NOT NULL,
    created_at {int} NOT NULL,
    last_seen_at {int} NOT NULL,
    expires_at {int} NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
