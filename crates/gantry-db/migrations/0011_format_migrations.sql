-- Format crates bring their own migrations, numbered per owner (the format's id).
CREATE TABLE gantry_format_migrations (
    owner TEXT NOT NULL,
    version {int} NOT NULL,
    applied_at {int} NOT NULL,
    PRIMARY KEY (owner, version)
);
