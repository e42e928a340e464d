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
