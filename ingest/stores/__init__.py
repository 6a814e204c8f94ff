"""Loaders that read a bundle and push it into a store (Neo4j or embedded LadybugDB)."""

from saegraph.queries import registry

# The load statements (area ``_load``) live beside the loaders, apart from the read library.
registry.register_statements("saegraph.ingest.stores", "cypher")
