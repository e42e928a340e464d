-- OSV advisories, kept whole; `advisory_packages` indexes them by ecosystem and normalised
-- package name for scans.
CREATE TABLE advisories (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    body TEXT NOT NULL,
    imported_at {int} NOT NULL
);

CREATE TABLE advisory_packages (
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX advisory_packages_by_advisory ON advisory_packages (advisory_id);

-- The findings of a package's latest scan.
CREATE TABLE package_vulnerabilities (
    package_id {int} NOT NULL REFERENCES packages (id),
    advisory_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    finding TEXT NOT NULL,
    PRIMARY KEY (package_id, advisory_id)
);

ALTER TABLE packages ADD COLUMN scanned_at {int};
ALTER TABLE packages ADD COLUMN scan_reason TEXT;
