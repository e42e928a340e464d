-- The query language's `name:N` matches a package's normalised name or its name as given:
-- each side of that OR needs an index, or the listing reads every package of the repository.
CREATE INDEX packages_by_exact_name ON packages (repository_id, name, id);
-- Live packages and their bytes per repository and format, kept with the package count (see
-- `adjust_count`), so pages that show a repository's sizes and formats read a few rows
-- instead of summing its packages.
CREATE TABLE repository_format_stats (
    repository_id {int} NOT NULL,
    format TEXT NOT NULL,
    package_count {int} NOT NULL,
    total_size {int} NOT NULL,
    PRIMARY KEY (repository_id, format)
);
INSERT INTO repository_format_stats (repository_id, format, package_count, total_size)
    SELECT repository_id, format, COUNT(*), COALESCE(SUM(size), 0) FROM packages
    WHERE state <> 'deleted' GROUP BY repository_id, format;
