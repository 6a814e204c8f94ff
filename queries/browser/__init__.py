"""Neo4j Browser files: the query library as favourites, a GraSS style, a guide.

Neo4j Browser imports favourites by drag and drop of ``.cypher`` files or of a ``.zip`` of
them (folders become favourite folders; the first ``//`` line is the favourite's name), and a
style by drag and drop of a ``.grass`` file. The named queries are templates (``{{relType}}``
slots filled from Enum allowlists), so they cannot be dropped in as they are:

1. For every public named query (``saegraph.queries.registry.list_queries``), take its Neo4j text.
2. For each allowed value of its Enum parameter (or once, when it has none), fill the
   template slots with :func:`saegraph.queries.registry.render`, exactly as the store would.
3. Prefix a header: the favourite's name, its description, and one ``:param`` line per
   ``$param`` (default value, or a placeholder to edit), so the file runs in Browser after
   the ``:param`` lines are run.
4. Write ``<area>/<verb_noun>[.<TYPE>].cypher`` into a zip (:func:`write_favorites_zip`).

Run ``python -m saegraph.queries.browser favourites.zip`` and drop the zip on Browser's Favorites drawer.
"""

from saegraph.queries.browser.favorites import favorite_files, write_favorites_zip

__all__ = ["favorite_files", "write_favorites_zip"]
