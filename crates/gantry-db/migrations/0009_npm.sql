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
    manifest TEXT NOT NULL,
    abbreviated TEXT NOT NULL,
    description TEXT,
    file_count {int},
    unpacked_size {int}
);
