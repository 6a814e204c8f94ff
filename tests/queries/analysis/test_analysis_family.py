"""The family universality table equals references computed directly from the decoders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from scipy.optimize import linear_sum_assignment

from saegraph.cli import cli
from saegraph.ingest.edges.matches.actcorr_null import FamilyActivationCorrelation, sequence_shift
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
    return path, decoders, {k: v.toarray().astype(np.float64) for k, v in acts.items()}


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_table_equals_direct_computation(family):
    path, dec, _ = family
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
    path, _, _ = family
    source = BundleSource(path)
    freq = frequency_histograms(source).set_index("saeId")
    for sid in ("a", "b", "w", "c"):
        density = source.features(sid)["density"].to_numpy()
        bins = [c for c in freq.columns if c != "dead"]
        assert freq.loc[sid, "dead"] == (density <= 0).sum()
        assert freq.loc[sid, bins].sum() == (density > 0).sum()
    assert freq.loc["a", "dead"] >= 1


def test_cli_prints_and_writes_the_report(family, tmp_path):
    path, _, _ = family
    out = CliRunner().invoke(cli, ["universality", str(path), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0, out.output
    assert "relation" in out.output and "seed" in out.output and "layer" in out.output
    for name in ("universality.csv", "frequency.csv", "frequency.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 0


def _dense_max_corr(x, y):
    """Mean over live columns of x of the max Pearson r against any column of y, and back."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(x.T, y.T)[: x.shape[1], x.shape[1] :]
    r = np.where(np.isfinite(r), r, -np.inf)
    ab, ba = r.max(axis=1), r.max(axis=0)
    return ab[np.isfinite(ab)].mean(), ba[np.isfinite(ba)].mean()


def test_max_activation_correlation_and_its_null_equal_dense_references(family):
    path, _, acts = family
    hook = FamilyActivationCorrelation(path)
    table = family_table(BundleSource(path), activation_correlation=hook).set_index(["saeA", "saeB"])
    n_seq = 2000 // 40
    for (x, y), row in table.iterrows():
        ab, ba = _dense_max_corr(acts[x], acts[y])
        assert row["maxActCorrAB"] == pytest.approx(ab, abs=1e-6), (x, y)
        assert row["maxActCorrBA"] == pytest.approx(ba, abs=1e-6), (x, y)
        shifted = np.roll(acts[y], -(n_seq // 2) * 40, axis=0)  # B's sequence i + S/2 beside A's i
        null_ab, null_ba = _dense_max_corr(acts[x], shifted)
        assert row["actCorrNullAB"] == pytest.approx(null_ab, abs=1e-6), (x, y)
        assert row["actCorrNullBA"] == pytest.approx(null_ba, abs=1e-6), (x, y)
        assert row["tokens"] == 2000
        assert "MATCHES stage" in row["actCorrInfo"] and "shifted by 25 of 50" in row["actCorrInfo"]
    assert table.loc[("a", "b"), "maxActCorrAB"] > 0.9 > 0.2 > table.loc[("a", "b"), "actCorrNullAB"]
    # without the stored statistic the hook computes it, with the same result
    values, info = hook("a", "w", {})
    assert "computed" in info
    assert values["maxActCorrAB"] == pytest.approx(table.loc[("a", "w"), "maxActCorrAB"], abs=1e-6)


def test_seeded_shift_and_a_bundle_without_activations(family, tmp_path):
    path, _, acts = family
    values, info = FamilyActivationCorrelation(path, seed=3)("a", "c", {})
    shift = values["nullShift"]
    assert 0 < shift < 50 and f"shifted by {shift} of 50" in info
    want = _dense_max_corr(acts["a"], np.roll(acts["c"], -shift * 40, axis=0))
    assert (values["actCorrNullAB"], values["actCorrNullBA"]) == pytest.approx(want, abs=1e-6)
    bare = tmp_path / "bare"
    shutil.copytree(path, bare)
    shutil.rmtree(bare / "activations")
    table = family_table(BundleSource(bare), activation_correlation=FamilyActivationCorrelation(bare))
    assert table["actCorrNullAB"].isna().all() and table["maxActCorrAB"].isna().all()
    assert table["actCorrInfo"].str.contains("no activations").all()
    stored_only = family_table(BundleSource(path))  # no hook: the stage's statistic, no null
    assert stored_only["maxActCorrAB"].notna().all() and stored_only["actCorrNullAB"].isna().all()


def test_sequence_shift_pairs_positions_of_shifted_sequences():
    seq = np.array([3, 3, 3, 7, 7, 9, 9, 9])  # three sequences of lengths 3, 2, 3 (ids need not be 0..S-1)
    pos = np.array([0, 1, 2, 0, 1, 0, 1, 2])
    rows_a, rows_b = sequence_shift(seq, pos, 1)
    pairs = {(int(seq[a]), int(pos[a]), int(seq[b]), int(pos[b])) for a, b in zip(rows_a, rows_b)}
    # 3 -> 7 (position 2 has no partner), 7 -> 9, 9 -> 3
    assert pairs == {
        (3, 0, 7, 0),
        (3, 1, 7, 1),
        (7, 0, 9, 0),
        (7, 1, 9, 1),
        (9, 0, 3, 0),
        (9, 1, 3, 1),
        (9, 2, 3, 2),
    }
