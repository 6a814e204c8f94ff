// _health.gds_version: the installed Graph Data Science version; fails when GDS is not loaded (saegraph doctor).
// @returns version
RETURN gds.version() AS version
