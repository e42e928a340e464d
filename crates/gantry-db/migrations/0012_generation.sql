-- A counter that changes whenever data a server may cache changes: the triggers of this
-- migration (made in migrations.rs, their syntax differs per backend) add one to it in the
-- writing transaction, and every server polls it to know when its caches may be stale.
CREATE TABLE gantry_generation (
    id {int} PRIMARY KEY,
    value {int} NOT NULL
);
INSERT INTO gantry_generation (id, value) VALUES (1, 0);
