-- A yanked file stays installable by exact pin but is skipped by resolvers (PEP 592,
-- cargo yank).
ALTER TABLE packages ADD COLUMN yanked {int} NOT NULL DEFAULT 0;
ALTER TABLE packages ADD COLUMN yank_reason TEXT;
