"""``saegraph view`` and ``saegraph show``: pictures and cards from a bundle and the embedded store.

The browser test opens the generated HTML in headless Chromium with no network, waits for
the graph to render, checks that nodes are drawn (community colours on the screenshot), that
the console stayed clean and that nothing but the page itself was requested, and keeps the
screenshot (``SAEGRAPH_SCREENSHOT_DIR`` or pytest's tmp dir).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.queries.analysis.sources import BundleSource, StoreSource
from tests.helpers.browser import coloured_pixels, find_chromium, open_page
from tests.helpers.store_fixtures import make_graph_bundle

pytest.importorskip("neo4j_viz", reason="graph pictures need the viz extra: pip install 'saegraph[viz]'")


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from saegraph.ingest.stores.embedded import load_bundle_embedded
    from saegraph.queries.stores import open_store

    root = tmp_path_factory.mktemp("view")
    bundle = make_graph_bundle(root / "bundle", n_saes=2, n_features=60, seed=3)
    store = open_store(store_dir=root / "db", buffer_pool_size=128 << 20)
    load_bundle_embedded(bundle, store, progress=False)
    store.close()
    return bundle, root / "db"


def _sources(bundle, db):
    from saegraph.queries.stores import open_store

    yield "bundle", BundleSource(bundle)
    store = open_store(store_dir=db, read_only=True, buffer_pool_size=64 << 20)
    try:
        yield "embedded", StoreSource(store)
    finally:
        store.close()


def test_subgraphs_from_bundle_and_store_agree(graph):
    from saegraph.queries.analysis.view import subgraph, visualization_graph

    bundle, db = graph
    got = {}
    for kind, source in _sources(bundle, db):
        ego = subgraph(source, ego="s0:3", rels=("CO_ACTIVATES", "LASSO"))
        assert ego.nodes["featureId"].iloc[0] == "s0:3" and ego.focus == ["s0:3"]
        assert set(ego.edges["type"]) <= {"CO_ACTIVATES", "LASSO"} and len(ego.edges) > 0
        assert set(ego.edges["source"]) | set(ego.edges["target"]) <= set(ego.nodes["featureId"])
        comm = int(ego.nodes["community"].iloc[0])
        members = subgraph(source, community=comm, sae_id="s0")
        assert set(members.nodes["community"]) == {comm}
        far = ego.nodes["featureId"].iloc[-1]
        path = subgraph(source, path=("s0:3", far), rels=("CO_ACTIVATES",))
        assert path.nodes["featureId"].iloc[0] == "s0:3" and path.nodes["featureId"].iloc[-1] == far
        vg = visualization_graph(ego)
        node = vg.nodes[0]
        assert node.caption and node.size > 0 and node.properties["topTokens"]
        rel = vg.relationships[0]
        assert {"relationship", "sign"} <= set(rel.properties)
        got[kind] = (sorted(ego.nodes["featureId"]), len(ego.edges), sorted(path.nodes["featureId"]))
    assert got["bundle"] == got["embedded"]


def test_view_and_show_commands(graph, tmp_path):
    bundle, db = graph
    runner = CliRunner()
    out = tmp_path / "ego.html"
    res = runner.invoke(cli, ["view", "--ego", "s0:3", "--store", str(db), "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "s0:3: ego network" in page and "neo4j-viz-data" in page
    assert "http://" not in page.split("neo4j-viz-data", 1)[1][:2000]  # data block, no remote refs
    res = runner.invoke(
        cli, ["view", "--community", "0", "--bundle", str(bundle), "-o", str(tmp_path / "c.html")]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["view", "--store", str(db), "-o", str(tmp_path / "x.html")])
    assert res.exit_code != 0 and "choose one picture" in res.output
    res = runner.invoke(cli, ["show", "s0:3", "--store", str(db)])
    assert res.exit_code == 0, res.output
    for field in ("density", "top tokens", "examples", "strongest neighbours", "CO_ACTIVATES", "LASSO"):
        assert field in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 160
    res = runner.invoke(cli, ["show", "s0:9999", "--store", str(db)])
    assert res.exit_code == 1 and "lookup.features_by_sae" in res.output
    res = runner.invoke(
        cli,
        ["query", "lookup.feature_card", "-p", "featureId=s0:3", "--store", str(db), "--format", "vertical"],
    )
    assert res.exit_code == 0 and "featureId" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 120


@pytest.mark.skipif(find_chromium() is None, reason="needs Debian's chromium: apt-get install -y chromium")
def test_graph_html_renders_in_headless_chromium_offline(graph, tmp_path):
    from saegraph.queries.analysis.view import PALETTE, subgraph, write_html

    bundle, _ = graph
    sub = subgraph(BundleSource(bundle), ego="s0:3", rels=("CO_ACTIVATES", "LASSO"))
    page = write_html(sub, tmp_path / "ego.html")
    shots = Path(os.environ.get("SAEGRAPH_SCREENSHOT_DIR", tmp_path))
    res = open_page(
        page.resolve().as_uri(),
        shots / "graph.png",
        ready_js="document.querySelector('canvas') !== null",
        settle=2.0,
    )
    assert res.ready, "the graph's canvas never appeared"
    assert not res.console_errors and not res.exceptions, (res.console_errors, res.exceptions)
    assert all(u.startswith(("file:", "data:", "blob:")) for u in res.requests), res.requests
    drawn = coloured_pixels(res.screenshot, PALETTE)
    n_colours = sub.nodes["community"].nunique()
    assert sum(v > 200 for v in drawn.values()) >= min(n_colours, len(PALETTE)), drawn
