-- What the last scan of an image package found installed, by ecosystem and a loose name key
-- (lower case, `-`/`_`/`.` folded): an advisory import rescans the images that hold a name
-- it touched. No foreign key: rows of a package removed for good are ignored by the join.
CREATE TABLE oci_components (
    package_id {int} NOT NULL,
    ecosystem TEXT NOT NULL,
    name_key TEXT NOT NULL,
    PRIMARY KEY (package_id, ecosystem, name_key)
);
CREATE INDEX oci_components_by_name ON oci_components (ecosystem, name_key);
