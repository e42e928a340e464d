package gantry

# Severity threshold: a package whose worst known advisory is high or critical may not be
# promoted anywhere, and is quarantined where it is when the gate turns it away. An advisory
# without a rating counts as `unknown`, which blocks too (gates fail closed), and so does a
# package whose scan has not finished or failed.

blocking := {"high", "critical", "unknown"}

unscanned := {"not_scanned", "awaiting_scan", "scanning", "scan_failed"}

deny contains msg if {
	input.destination != null
	input.package.max_severity in blocking
	msg := sprintf("%s %s has %d known vulnerabilities (worst: %s)", [
		input.package.name,
		input.package.version,
		input.package.num_vulnerabilities,
		input.package.max_severity,
	])
}

deny contains msg if {
	input.destination != null
	input.package.security_scan_status in unscanned
	msg := sprintf("%s %s has not been scanned (%s)", [
		input.package.name,
		input.package.version,
		input.package.security_scan_status,
	])
}

quarantine if {
	input.destination != null
	input.package.max_severity in blocking
}
