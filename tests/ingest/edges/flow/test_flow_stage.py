"""FLOWS_TO recovers a planted mapping between the SAEs of two successive layers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import EdgesConfig, FlowConfig
from saegraph.ingest.edges.flow.stage import activation_check, flow_pairs, successor_pairs
from saegraph.ingest.edges.runner import run_edges
from tests.helpers.builders import make_bundle_from_arrays

D, FA, FB, KEPT = 256, 64, 72, 48


def planted(seed: int = 0):
    """A at layer 0, B at layer 1: B's feature perm[i] continues A's feature i (i < KEPT) with
    noise; A's features >= KEPT end; B's other FB - KEPT features are born. Activations: a
    continuing B feature fires with prob 0.9 where its A feature fires; born ones independently."""
    rng = np.random.default_rng(seed)
    w_a = rng.standard_normal((FA, D)).astype(np.float32)
    w_b = rng.standard_normal((FB, D)).astype(np.float32)
    perm = rng.permutation(FB)[:KEPT]
    w_b[perm] = w_a[:KEPT] + 0.3 * rng.standard_normal((KEPT, D)).astype(np.float32) * np.linalg.norm(
        w_a[:KEPT], axis=1, keepdims=True
    ) / np.sqrt(D)
    n = 4000
    fire_a = rng.random((n, FA)) < 0.04
    fire_b = rng.random((n, FB)) < 0.04
    fire_b[:, perm] = fire_a[:, :KEPT] & (rng.random((n, KEPT)) < 0.9)
    acts_a = sp.csr_matrix(fire_a * rng.uniform(0.5, 2.0, fire_a.shape), dtype=np.float32)
    acts_b = sp.csr_matrix(fire_b * rng.uniform(0.5, 2.0, fire_b.shape), dtype=np.float32)
    return w_a, w_b, perm, acts_a, acts_b


def test_successor_pairs_link_each_sae_to_the_next_layer_of_its_group():
    saes = pd.DataFrame(
        {
            "saeId": ["l0", "l1a", "l1b", "l3", "other", "nolayer"],
            "modelId": ["m", "m", "m", "m", "m2", "m"],
            "dIn": [8, 8, 8, 8, 8, 8],
            "layer": [0, 1, 1, 3, 2, -1],
        }
    )
    assert successor_pairs(saes) == [("l0", "l1a"), ("l0", "l1b"), ("l1a", "l3"), ("l1b", "l3")]
    one_layer = saes.assign(layer=0)
    assert successor_pairs(one_layer) == []


def test_planted_mapping_is_recovered_and_births_and_ends_counted():
    w_a, w_b, perm, _, _ = planted()
    rows, stats = flow_pairs(w_a, w_b, top_k=3, min_cosine=0.3)
    top1 = rows[rows["rank"] == 1].set_index("a")["b"]
    assert all(top1.get(i) == perm[i] for i in range(KEPT)), "every continuing feature finds its successor"
    assert set(rows["a"]) == set(range(KEPT)), "features that end have no successor above the floor"
    assert set(zip(rows["a"], rows["b"])) == {(i, perm[i]) for i in range(KEPT)}
    assert stats["continuing"] == pytest.approx(KEPT / FA)
    assert stats["born"] == pytest.approx(1 - KEPT / FB)
    assert stats["baselineForward"] < 0.3 < stats["meanBestCosineForward"]
    # cosines equal a direct computation
    na = w_a / np.linalg.norm(w_a, axis=1, keepdims=True)
    nb = w_b / np.linalg.norm(w_b, axis=1, keepdims=True)
    np.testing.assert_allclose(rows["cosine"], np.sum(na[rows["a"]] * nb[rows["b"]], axis=1), rtol=1e-5)


def test_activation_check_equals_a_dense_reference():
    w_a, w_b, perm, acts_a, acts_b = planted(1)
    a = np.arange(KEPT, dtype=np.int64)
    b = perm.astype(np.int64)
    p, r = activation_check(acts_a, acts_b, a, b)
    xa, xb = acts_a.toarray(), acts_b.toarray()
    want_p = [((xa[:, i] > 0) & (xb[:, j] > 0)).sum() / (xa[:, i] > 0).sum() for i, j in zip(a, b)]
    want_r = [np.corrcoef(xa[:, i], xb[:, j])[0, 1] for i, j in zip(a, b)]
    np.testing.assert_allclose(p, want_p)
    np.testing.assert_allclose(r, want_r, rtol=1e-5, atol=1e-7)
    assert np.median(p) == pytest.approx(0.9, abs=0.05)


def test_stage_writes_directed_rows_earlier_to_later(tmp_path):
    w_a, w_b, perm, acts_a, acts_b = planted(2)
    path = make_bundle_from_arrays(
        tmp_path / "bundle",
        {"late": acts_b, "early": acts_a},
        {"late": w_b, "early": w_a},
        sequence_length=40,
        layers={"early": 4, "late": 5},
    )
    cfg = EdgesConfig(flow=FlowConfig(top_k=1))
    stats = run_edges(path, cfg, only=["flow"], progress=False)["flow"]
    frame = open_bundle(path).frame("flows_to")
    assert (frame["sourceSae"] == "early").all() and (frame["targetLayer"] == 5).all()
    got = {(int(s.split(":")[1]), int(t.split(":")[1])) for s, t in zip(frame["source"], frame["target"])}
    assert got == {(i, int(perm[i])) for i in range(KEPT)}
    assert frame["pTargetGivenSource"].median() == pytest.approx(0.9, abs=0.05)
    assert stats["pairs"]["early->late"]["activationCheck"]["nTokens"] == 4000


def test_no_successive_layers_is_an_empty_table_with_a_note(tmp_path):
    w_a, w_b, _, acts_a, acts_b = planted(3)
    path = make_bundle_from_arrays(tmp_path / "b", {"x": acts_a, "y": acts_b}, {"x": w_a, "y": w_b}, 40)
    stats = run_edges(path, only=["flow"], progress=False)["flow"]
    assert stats["edges"] == 0 and "nothing to link" in stats["note"]
    assert open_bundle(path).table("flows_to").num_rows == 0
