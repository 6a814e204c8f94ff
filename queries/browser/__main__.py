"""``python -m saegraph.queries.browser OUT.zip``: write the Neo4j Browser favourites zip."""

import sys

from saegraph.queries.browser.favorites import write_favorites_zip

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(
            "usage: python -m saegraph.queries.browser OUT.zip   (then drop OUT.zip on Browser's Favorites drawer)"
        )
    sys.stdout.write(f"wrote {write_favorites_zip(sys.argv[1])}\n")
