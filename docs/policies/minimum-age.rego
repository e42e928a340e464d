package gantry

# Minimum age (cool-down): a package is promoted only once it has been in Gantry for a day,
# so that a compromised release has time to be noticed and pulled upstream first.

min_age_seconds := 86400

deny contains msg if {
	input.destination != null
	age := (time.now_ns() - time.parse_rfc3339_ns(input.package.uploaded_at)) / 1000000000
	age < min_age_seconds
	msg := sprintf("%s %s was uploaded %d seconds ago; packages wait %d seconds before promotion", [
		input.package.name,
		input.package.version,
		round(age),
		min_age_seconds,
	])
}
