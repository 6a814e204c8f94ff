// _health.server_components: the Neo4j server's name, versions and edition (saegraph doctor).
// @returns name, versions, edition
CALL dbms.components() YIELD name, versions, edition
RETURN name, versions, edition
