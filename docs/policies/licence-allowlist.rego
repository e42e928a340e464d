package gantry

# Licence allow-list: only packages under one of these licences may be promoted. The licence
# is read from the package's metadata (`license_expression`, else `license`); a package that
# declares none is refused.

allowed := {"MIT", "BSD", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC"}

licences contains l if {
	l := input.package.metadata.license_expression
	is_string(l)
	l != ""
}

licences contains l if {
	count({e | e := input.package.metadata.license_expression; is_string(e); e != ""}) == 0
	l := input.package.metadata.license
	is_string(l)
	l != ""
}

deny contains msg if {
	input.destination != null
	count(licences) == 0
	msg := sprintf("%s %s declares no licence", [input.package.name, input.package.version])
}

deny contains msg if {
	input.destination != null
	some l in licences
	not l in allowed
	msg := sprintf("%s %s is licensed %q, which is not on the allow-list", [
		input.package.name,
		input.package.version,
		l,
	])
}
