-- Listings page over live packages newest first; a partial index lets deep pages skip rows
-- without reading them.
CREATE INDEX packages_live_listing ON packages (repository_id, id) WHERE state <> 'deleted';
CREATE INDEX jobs_expired ON jobs (state, locked_until);
