package gantry

# Required tag: only packages tagged `tested` (for example by the CI job that tested them,
# with `gantry tags add OWNER/REPO/SLUG tested`) may be promoted to production.

deny contains msg if {
	input.destination.name == "production"
	not "tested" in input.package.tags
	msg := sprintf("%s %s is not tagged 'tested'", [input.package.name, input.package.version])
}
