// _health.embedded_ping: counts of the main node tables, proving the store answers (saegraph doctor).
// @returns features
MATCH (f:Feature)
RETURN count(f) AS features
