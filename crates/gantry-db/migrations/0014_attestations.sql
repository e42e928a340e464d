-- Signed attestations. `signing_keys` holds the site's ed25519 keys, so every replica signs
-- with the same one; `active` is 1 for the one key in use and NULL once it is retired (the
-- unique index allows one active key). `attestations` holds one DSSE envelope per step of a
-- package (upload, copy, move); `upload_of` is set for uploads only, so each package has one.
CREATE TABLE signing_keys (
    id {id},
    keyid TEXT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    secret TEXT NOT NULL,
    active {int},
    created_at {int} NOT NULL,
    retired_at {int}
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active);
CREATE TABLE attestations (
    id {id},
    slug_perm TEXT NOT NULL,
    step TEXT NOT NULL,
    origin_slug TEXT,
    upload_of TEXT UNIQUE,
    keyid TEXT NOT NULL,
    envelope TEXT NOT NULL,
    created_at {int} NOT NULL
);
CREATE INDEX attestations_by_package ON attestations (slug_perm, id);
