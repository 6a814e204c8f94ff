"""Graph analysis of SAE feature graphs: communities, components, centrality, paths,
structural comparison against nulls, node-signature matching and universality.

Pure cores take pandas edge/feature tables (bundle column names, docs/bundle.md) and return
DataFrames; ``engine`` / ``compare`` run them on a bundle (``sources.BundleSource``) or a
store (``sources.StoreSource``; GDS on Neo4j via ``gds``); ``report`` writes plots + JSON.
Submodules are imported on demand (igraph, leidenalg and matplotlib load only when used).
"""
