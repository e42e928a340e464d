-- Whether an attempt's receiver was in a private range the operator allowed: what such a
-- receiver answered is shown to site admins only.
ALTER TABLE webhook_attempts ADD COLUMN private_target {int} NOT NULL DEFAULT 0;
