"""Small shared helpers: errors and exit codes, atomic file writes, provenance of artifacts."""
