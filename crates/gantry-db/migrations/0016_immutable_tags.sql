-- A repository that marks tags immutable refuses to point an existing tag (an OCI image tag)
-- at other content: a re-push under the same tag with another digest is a conflict.
ALTER TABLE repositories ADD COLUMN immutable_tags {int} NOT NULL DEFAULT 0;
