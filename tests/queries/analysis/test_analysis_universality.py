"""Universality tables: EVT baseline, blocked max cosine, shared fraction, splitting."""

import numpy as np
import pandas as pd
import pytest

from saegraph.queries.analysis.universality import evt_baseline, max_cosines, universality_summary


def test_evt_baseline_matches_methods_anchor():
    assert evt_baseline(4096, 512) == pytest.approx(0.155, abs=0.002)


def test_max_cosines_blocked_equals_dense():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(70, 8))
    best_a, best_b = max_cosines(a, b, block=7)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    dense = an @ bn.T
    assert np.allclose(best_a, dense.max(axis=1), atol=1e-6)
    assert np.allclose(best_b, dense.max(axis=0), atol=1e-6)


def test_summary_shared_fraction_and_splitting():
    rng = np.random.default_rng(1)
    children = rng.normal(size=(4, 16))
    narrow = np.stack([children[0] + children[1], rng.normal(size=16)])  # parent 0 = sum of two children
    matches = pd.DataFrame(
        {
            "source": ["a:0", "a:0", "a:1", "a:0"],
            "target": ["b:0", "b:1", "b:2", "b:0"],
            "cosine": [0.7, 0.72, 0.4, 0.7],
            "actCorr": [0.5, np.nan, 0.2, 0.5],
            "method": ["parent", "parent", "parent", "hungarian"],
        }
    )
    out = universality_summary(
        matches, n_a=2, n_b=4, d_in=16, thresholds=(0.5, 0.9), dec_a=narrow, dec_b=children
    )
    assert out["shared"]["nShared"].tolist() == [1, 0]
    assert out["shared"]["fractionOfA"].iloc[0] == 0.5 and out["shared"]["fractionOfB"].iloc[0] == 0.25
    split = out["splitting"].set_index("parent")
    assert split.loc["a:0", "nChildren"] == 2 and split.loc["a:0", "nnlsR2"] == pytest.approx(1.0)
    assert out["splittingCounts"].set_index("nChildren")["nParents"].to_dict() == {1: 1, 2: 1}
    assert out["mcs"]["source"].iloc[0] == "decoders"
    assert out["actCorr"]["n"].iloc[0] == 1 and out["actCorr"]["mean"].iloc[0] == pytest.approx(0.5)
