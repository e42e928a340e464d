-- A repository that allows republishing lets a native deploy of a release that is already
-- published (a Maven `mvn deploy` of the same version) replace it; by default it is refused.
ALTER TABLE repositories ADD COLUMN allow_republish {int} NOT NULL DEFAULT 0;
