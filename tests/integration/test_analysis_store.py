"""Analysis through the embedded store and a bundle: write-back, paths, compare + report, CLI."""

import json

import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.queries.analysis import engine
from saegraph.queries.analysis.sources import BundleSource, StoreSource
from tests.helpers.store_fixtures import make_graph_bundle


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    bundle = make_graph_bundle(root / "bundle", n_features=120, seed=3)
    result = CliRunner().invoke(cli, ["load", str(bundle), "--store", str(root / "db")])
    assert result.exit_code == 0, result.output
    return bundle, root / "db"


def test_communities_components_centrality_written_back(loaded):
    from saegraph.queries.stores import open_store

    bundle, db = loaded
    with open_store(store_dir=db) as store:
        src = StoreSource(store)
        res = engine.communities(src, "s0", "COSINE")
        comp = engine.components(src, "s0", "COSINE")
        cen = engine.centrality(src, "s0", "COSINE")
        feats = store.features("s0").set_index("featureId")
    labels = res["labels"].set_index("featureId")["community"]
    assert (feats.loc[labels.index, "communityCosine"].astype(int) == labels).all()
    assert (
        feats.loc[comp["labels"]["featureId"], "componentCosine"].astype(int).to_numpy()
        == comp["labels"]["component"].to_numpy()
    ).all()
    degree = cen["table"].set_index("featureId")["degree"]
    assert (feats.loc[degree.index, "degreeCosine"].astype(int) == degree).all()
    assert res["summary"]["size"].sum() == 120 and res["info"]["modularity"] > 0.2
    # the bundle path gives the same partition (same graph, same seed)
    from_bundle = engine.communities(BundleSource(bundle), "s0", "COSINE", write=False)["labels"]
    assert from_bundle.set_index("featureId")["community"].equals(labels)


def test_paths_same_on_store_and_bundle(loaded):
    from saegraph.queries.stores import open_store

    bundle, db = loaded
    with open_store(store_dir=db, read_only=True) as store:
        a = engine.path(StoreSource(store), "s0:1", "s0:50", "COSINE", k=3, weighted=True)["paths"]
    b = engine.path(BundleSource(bundle), "s0:1", "s0:50", "COSINE", k=3, weighted=True)["paths"]
    assert a["cost"].tolist() == pytest.approx(b["cost"].tolist())
    assert a["nodes"].tolist() == b["nodes"].tolist()


def test_cli_compare_report_and_path(loaded, tmp_path):
    bundle, db = loaded
    runner = CliRunner()
    out = runner.invoke(
        cli,
        [
            "compare",
            "s0",
            "s1",
            "--bundle",
            str(bundle),
            "--draws",
            "20",
            "--perms",
            "1000",
            "--report",
            str(tmp_path / "rep"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "JSD" in out.output and "hits@10" in out.output
    index = json.loads((tmp_path / "rep" / "report.json").read_text())
    for name in ("degree_distribution", "strength_distribution", "community_sizes", "match_similarity"):
        assert (tmp_path / "rep" / f"{name}.png").stat().st_size > 1000
        fig = json.loads((tmp_path / "rep" / f"{name}.json").read_text())
        assert fig["series"] and name in index["figures"]
    out = runner.invoke(
        cli, ["path", "s0:1", "s0:50", "--store", str(db), "--rel", "COSINE", "-k", "2", "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["info"]["cost"].startswith("unweighted")
    out = runner.invoke(cli, ["path", "s0:1", "s1:5", "--store", str(db)])
    assert out.exit_code != 0 and "different SAEs" in out.output
    out = runner.invoke(
        cli,
        [
            "communities",
            "--store",
            str(db),
            "--sae",
            "s1",
            "--rel",
            "COSINE",
            "--seeds",
            "3",
            "--report",
            str(tmp_path / "comm"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "comm" / "s1_community_sizes.png").exists()
