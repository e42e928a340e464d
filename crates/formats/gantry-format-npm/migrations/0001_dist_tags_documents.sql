-- npm dist-tags: a repository's named pointers from a package name to one of its versions.
-- Versions themselves are packages; a tag may outlive its version (the packument skips it).
CREATE TABLE npm_dist_tags (
    repository_id {int} NOT NULL REFERENCES repositories (id),
    name TEXT NOT NULL,
    tag TEXT NOT NULL,
    version TEXT NOT NULL,
    updated_at {int} NOT NULL,
    PRIMARY KEY (repository_id, name, tag)
);

-- The version documents a packument splices in, by tarball (they depend on its bytes only, so
-- copies of a package share them). Filled from the package's metadata the first time a
-- packument needs them; rendering then reads a few hundred bytes per version and parses none.
CREATE TABLE npm_documents (
    sha256 TEXT PRIMARY KEY,
    sha1 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    manifest TEXT NOT NULL,
    abbreviated TEXT NOT NULL,
    description TEXT,
    file_count {int},
    unpacked_size {int}
);

-- A packument reads every version of one name. This index holds all it needs of each
-- version, so the rows (whose metadata is large) are not read; its four equality columns
-- make it the choice of both databases without statistics.
CREATE INDEX packages_npm_versions ON packages (repository_id, normalized_name, state,
    sync_status, id, version, updated_at, uploaded_at, yanked, yank_reason, slug_perm, name,
    filename, primary_sha256) WHERE format = 'npm';
