"""The family universality table equals references computed directly from the decoders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from scipy.optimize import linear_sum_assignment

from saegraph.cli import cli
from saegraph.ingest.edges.runner import run_edges
from saegraph.queries.analysis.family import family_table, frequency_histograms
from saegraph.queries.analysis.sources import BundleSource
from tests.helpers.builders import make_bundle_from_arrays

D = 64


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """a, b: layer 0, width 40, b = a's directions permuted with noise (a seed pair); w: layer 0,
    width 80 (a's directions plus 40 new ones); c: layer 1, width 40, half of a's directions."""
    rng = np.random.default_rng(5)
    n = 2000
    w_a = rng.standard_normal((40, D)).astype(np.float32)
    perm = rng.permutation(40)
    w_b = w_a[perm] + 0.4 * rng.standard_normal((40, D)).astype(np.float32)
    w_w = np.vstack([w_a + 0.2 * rng.standard_normal((40, D)), rng.standard_normal((40, D))]).astype(
        np.float32
    )
    w_c = np.vstack([w_a[:20] + 0.5 * rng.standard_normal((20, D)), rng.standard_normal((20, D))]).astype(
        np.float32
    )
    fire = rng.random((n, 40)) < 0.05
    acts_a = sp.csr_matrix(fire * rng.uniform(0.5, 2, fire.shape), dtype=np.float32)
    acts = {
        "a": acts_a,
        "b": acts_a[:, np.argsort(perm)],
        "w": sp.hstack([acts_a, sp.csr_matrix((rng.random((n, 40)) < 0.02).astype(np.float32))]).tocsr(),
        "c": sp.csr_matrix((rng.random((n, 40)) < 0.05).astype(np.float32)),
    }
    acts["a"][:, 3] = 0  # one dead feature
    acts["a"] = sp.csr_matrix(acts["a"].toarray())
    decoders = {"a": w_a, "b": w_b, "w": w_w, "c": w_c}
    path = make_bundle_from_arrays(
        tmp_path_factory.mktemp("family") / "bundle",
        acts,
        decoders,
        sequence_length=40,
        layers={"a": 0, "b": 0, "w": 0, "c": 1},
    )
    run_edges(path, only=["matches"], progress=False)
    return path, decoders


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_table_equals_direct_computation(family):
    path, dec = family
    table = family_table(BundleSource(path)).set_index(["saeA", "saeB"])
    assert sorted(table.index) == sorted(
        [("a", "b"), ("a", "w"), ("a", "c"), ("b", "w"), ("b", "c"), ("w", "c")]
    )
    assert table.loc[("a", "b"), "relation"] == "seed"
    assert table.loc[("a", "w"), "relation"] == "width"
    assert table.loc[("a", "c"), "relation"] == "layer"
    for (x, y), row in table.iterrows():
        cos = _unit(dec[x].astype(np.float64)) @ _unit(dec[y].astype(np.float64)).T
        assert row["mcsAB"] == pytest.approx(cos.max(axis=1).mean(), abs=1e-5)
        assert row["mcsBA"] == pytest.approx(cos.max(axis=0).mean(), abs=1e-5)
        r, c = linear_sum_assignment(-cos)
        for tau in (0.5, 0.7, 0.9):
            assert row[f"shared@{tau:g}"] == pytest.approx((cos[r, c] >= tau).sum() / len(dec[x])), (
                x,
                y,
                tau,
            )
        assert row["baselineAB"] < 0.6
    assert table.loc[("a", "b"), "mcsAB"] > 0.8 > table.loc[("a", "c"), "mcsAB"]


def test_frequency_histograms_count_every_feature(family):
    path, _ = family
    source = BundleSource(path)
    freq = frequency_histograms(source).set_index("saeId")
    for sid in ("a", "b", "w", "c"):
        density = source.features(sid)["density"].to_numpy()
        bins = [c for c in freq.columns if c != "dead"]
        assert freq.loc[sid, "dead"] == (density <= 0).sum()
        assert freq.loc[sid, bins].sum() == (density > 0).sum()
    assert freq.loc["a", "dead"] >= 1


def test_cli_prints_and_writes_the_report(family, tmp_path):
    path, _ = family
    out = CliRunner().invoke(cli, ["universality", str(path), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0, out.output
    assert "relation" in out.output and "seed" in out.output and "layer" in out.output
    for name in ("universality.csv", "frequency.csv", "frequency.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
