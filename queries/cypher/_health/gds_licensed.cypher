// _health.gds_licensed: whether GDS runs with an Enterprise licence (false on Community: 4 cores, no security features) (saegraph doctor).
// @returns licensed
RETURN gds.isLicensed() AS licensed
