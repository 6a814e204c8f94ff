"""Loaders that read a bundle and push it into a store (Neo4j or embedded LadybugDB)."""
