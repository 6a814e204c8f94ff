"""GDS on Neo4j vs Python on the embedded store: same rows for the same bundle (needs NEO4J_URI + GDS)."""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import adjusted_rand_score

from saegraph.cli import cli
from saegraph.queries.analysis import engine
from saegraph.queries.analysis.sources import BundleSource, StoreSource
from tests.helpers.store_fixtures import make_graph_bundle

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from saegraph.queries.stores import open_store

    root = tmp_path_factory.mktemp("gds")
    bundle = make_graph_bundle(root / "bundle", n_features=120, seed=5)
    for target in (["--neo4j", os.environ["NEO4J_URI"]], ["--store", str(root / "db")]):
        out = CliRunner().invoke(cli, ["load", str(bundle), *target])
        assert out.exit_code == 0, out.output
    neo = open_store(neo4j_uri=os.environ["NEO4J_URI"])
    emb = open_store(store_dir=root / "db")
    yield bundle, StoreSource(neo), StoreSource(emb)
    neo.close()
    emb.close()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_paths_identical(stores, weighted, k):
    _, neo, emb = stores
    a = engine.path(neo, "s0:1", "s0:50", "COSINE", k=k, weighted=weighted)
    b = engine.path(emb, "s0:1", "s0:50", "COSINE", k=k, weighted=weighted)
    assert a["info"]["engine"].startswith("gds") and b["info"]["engine"].startswith("python")
    assert a["paths"]["cost"].tolist() == pytest.approx(b["paths"]["cost"].tolist(), abs=1e-9)
    if weighted:  # real-valued costs: the optimal paths are unique
        assert a["paths"]["nodes"].tolist() == b["paths"]["nodes"].tolist()


def test_components_identical_and_written(stores):
    _, neo, emb = stores
    a = engine.components(neo, "s0", "CO_ACTIVATES")["labels"].set_index("featureId")["component"]
    b = engine.components(emb, "s0", "CO_ACTIVATES")["labels"].set_index("featureId")["component"]
    assert a.loc[b.index].tolist() == b.tolist()


def test_communities_agree_and_pagerank_matches(stores):
    _, neo, emb = stores
    a = engine.communities(neo, "s0", "CO_ACTIVATES")
    b = engine.communities(emb, "s0", "CO_ACTIVATES")
    assert a["info"]["engine"] == "gds"
    la = a["labels"].set_index("featureId")["community"]
    lb = b["labels"].set_index("featureId")["community"]
    assert adjusted_rand_score(la.loc[lb.index], lb) > 0.9  # planted blocks: both find them
    assert abs(a["info"]["modularity"] - b["info"]["modularity"]) < 0.02
    pa = engine.centrality(neo, "s0", "CO_ACTIVATES")["table"].set_index("featureId")
    pb = engine.centrality(emb, "s0", "CO_ACTIVATES")["table"].set_index("featureId")
    assert np.allclose(pa.loc[pb.index, "pagerank"], pb["pagerank"], atol=1e-3)
    assert (pa.loc[pb.index, "degree"] == pb["degree"]).all()


def test_bundle_and_neo4j_compare_same_structure(stores):
    bundle, neo, _ = stores
    from saegraph.queries.analysis.compare import compare

    a = compare(neo, "s0", "s1", n_draws=20, n_perm=1000, progress=False)
    b = compare(BundleSource(bundle), "s0", "s1", n_draws=20, n_perm=1000, progress=False)
    assert a["jsd"]["jsdBits"].tolist() == pytest.approx(b["jsd"]["jsdBits"].tolist())
