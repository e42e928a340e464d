-- Maven deploys in progress. `mvn deploy` sends a version's files (POM, JAR, classifiers,
-- signatures) as separate PUTs; each waits here until the deploy ends (the artifact-level
-- maven-metadata.xml that closes every deploy, or the idle time), and then all the files of
-- one version (of one build, for a SNAPSHOT) become one package. Repositories are named by
-- id without a foreign key, as in the other formats' tables; the format's cleanup statements
-- remove a deleted repository's rows.
CREATE TABLE maven_staged_files (
    repository_id {int} NOT NULL,
    group_id TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    -- The SNAPSHOT build (`yyyyMMdd.HHmmss-N`) the file belongs to; '' for a release.
    build TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    size {int} NOT NULL,
    uploader TEXT NOT NULL,
    source_address TEXT,
    updated_at {int} NOT NULL,
    PRIMARY KEY (repository_id, group_id, artifact_id, version, filename)
);
CREATE INDEX maven_staged_files_updated ON maven_staged_files (updated_at);
CREATE INDEX maven_staged_files_blob ON maven_staged_files (blob_sha256);
