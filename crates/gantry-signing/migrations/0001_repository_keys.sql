-- One OpenPGP signing key per repository (apt and dnf metadata). `active` is 1 for the key in
-- use and NULL once rotated out (the unique index allows one active key per repository; made
-- on first use, so concurrent replicas race on it and all read the winner). `secret_key` is
-- the armored secret key; its key material is encrypted with the server's signing passphrase
-- when one is configured (`protected` = 1), see docs/signing.md.
CREATE TABLE repository_signing_keys (
    id {id},
    repository_id {int} NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    secret_key TEXT NOT NULL,
    protected {int} NOT NULL,
    active {int},
    created_at {int} NOT NULL,
    retired_at {int}
);
CREATE UNIQUE INDEX repository_signing_keys_one_active ON repository_signing_keys (repository_id, active);
CREATE INDEX repository_signing_keys_by_repository ON repository_signing_keys (repository_id, id);
