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
from tests.neo4j.conftest import delete_prefixed, ids, run_id

P = ids("gds")
S0, S1 = f"{P}s0", f"{P}s1"

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def stores(tmp_path_factory, neo4j_store):
    from saegraph.queries.stores import open_store

    root = tmp_path_factory.mktemp("gds")
    bundle = make_graph_bundle(root / "bundle", n_features=120, seed=5, prefix=P, run_id=run_id("gds"))
    for target in (["--neo4j", os.environ["NEO4J_URI"]], ["--store", str(root / "db")]):
        env = {"NEO4J_URI": None} if target[0] == "--store" else None  # --store: the env's URI aside
        out = CliRunner().invoke(cli, ["load", str(bundle), *target], env=env)
        assert out.exit_code == 0, out.output
    neo = open_store(neo4j_uri=os.environ["NEO4J_URI"])
    emb = open_store(store_dir=root / "db")
    yield bundle, StoreSource(neo), StoreSource(emb)
    neo.close()
    emb.close()
    delete_prefixed(neo4j_store, P)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_paths_identical(stores, weighted, k):
    _, neo, emb = stores
    a = engine.path(neo, f"{S0}:1", f"{S0}:50", "COSINE", k=k, weighted=weighted)
    b = engine.path(emb, f"{S0}:1", f"{S0}:50", "COSINE", k=k, weighted=weighted)
    assert a["info"]["engine"].startswith("gds") and b["info"]["engine"].startswith("python")
    assert a["paths"]["cost"].tolist() == pytest.approx(b["paths"]["cost"].tolist(), abs=1e-9)
    if weighted:  # real-valued costs: the optimal paths are unique
        assert a["paths"]["nodes"].tolist() == b["paths"]["nodes"].tolist()


def test_components_identical_and_written(stores):
    _, neo, emb = stores
    a = engine.components(neo, S0, "CO_ACTIVATES")["labels"].set_index("featureId")["component"]
    b = engine.components(emb, S0, "CO_ACTIVATES")["labels"].set_index("featureId")["component"]
    assert a.loc[b.index].tolist() == b.tolist()


def _planted(labels) -> np.ndarray:
    """The planted blocks of make_graph_bundle (4 blocks of the live features; dead ones alone)."""
    n = 120
    index = np.array([int(f.rsplit(":", 1)[1]) for f in labels.index])
    return np.where(index < n - 2, index * 4 // (n - 2), 100 + index)


@pytest.mark.parametrize("algorithm", ["leiden", "louvain"])
def test_communities_recover_planted_blocks_on_both_stores(stores, algorithm):
    from sklearn.metrics import adjusted_mutual_info_score

    _, neo, emb = stores
    a = engine.communities(neo, S0, "CO_ACTIVATES", algorithm=algorithm)
    b = engine.communities(emb, S0, "CO_ACTIVATES", algorithm=algorithm)
    assert a["info"]["engine"] == "gds" and b["info"]["engine"].startswith("python")
    for out in (a, b):
        labels = out["labels"].set_index("featureId")["community"]
        assert adjusted_mutual_info_score(_planted(labels), labels) >= 0.9, out["info"]
    # modularity of each partition (igraph's formula, same graph) within 0.02 of igraph's own
    assert abs(a["info"]["modularity"] - b["info"]["modularity"]) < 0.02
    la = a["labels"].set_index("featureId")["community"]
    lb = b["labels"].set_index("featureId")["community"]
    assert adjusted_rand_score(la.loc[lb.index], lb) > 0.9


def test_pagerank_equal_after_normalisation_and_written_the_same(stores):
    _, neo, emb = stores
    for rel in ("CO_ACTIVATES", "COSINE", "LASSO"):
        pa = engine.centrality(neo, S0, rel)["table"].set_index("featureId")
        pb = engine.centrality(emb, S0, rel)["table"].set_index("featureId")
        assert np.allclose(pa.loc[pb.index, "pagerank"], pb["pagerank"], atol=1e-6, rtol=0), rel
        assert (pa.loc[pb.index, "degree"] == pb["degree"]).all()
        prop = "pagerank" + rel.title().replace("_", "")
        wa = neo.features(S0).set_index("featureId")[prop]
        wb = emb.features(S0).set_index("featureId")[prop]
        assert wa.sum() == pytest.approx(1.0, abs=1e-9) and wb.sum() == pytest.approx(1.0, abs=1e-9)
        assert np.allclose(wa.loc[wb.index], wb, atol=1e-6, rtol=0), rel


def test_bundle_and_neo4j_compare_same_structure(stores):
    bundle, neo, _ = stores
    from saegraph.queries.analysis.compare import compare

    a = compare(neo, S0, S1, n_draws=20, n_perm=1000, progress=False)
    b = compare(BundleSource(bundle), S0, S1, n_draws=20, n_perm=1000, progress=False)
    assert a["jsd"]["jsdBits"].tolist() == pytest.approx(b["jsd"]["jsdBits"].tolist())
