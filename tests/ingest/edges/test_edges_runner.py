"""run_edges / build_from_bundle / `saegraph edges` on a small bundle built from arrays."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import CoactivationConfig, EdgesConfig
from saegraph.ingest.edges.runner import EdgeStageError, StageResult, run_edges, select_stages
from tests.helpers.builders import make_bundle_from_arrays

MINE = ["coactivation", "cosine", "matches"]


@pytest.fixture
def small_bundle(tmp_path):
    rng = np.random.default_rng(7)
    n, d = 1200, 24
    base = rng.random((n, 40)) < 0.05
    base[:, 1] |= base[:, 0]  # planted co-firing pair
    acts_a = sp.csr_matrix((base * rng.uniform(0.5, 2, base.shape)).astype(np.float32))
    perm = rng.permutation(40)
    acts_b = acts_a[:, perm]  # B feature k is A feature perm[k]
    wide = sp.hstack([acts_a, sp.csr_matrix((rng.random((n, 40)) < 0.03).astype(np.float32))]).tocsr()
    w_a = rng.standard_normal((40, d)).astype(np.float32)
    w_b = w_a[perm] + 0.1 * rng.standard_normal((40, d)).astype(np.float32)
    w_w = np.vstack([w_a, rng.standard_normal((40, d))]).astype(np.float32)
    path = make_bundle_from_arrays(
        tmp_path / "bundle",
        {"a": acts_a, "b": acts_b, "w": wide},
        {"a": w_a, "b": w_b, "w": w_w},
        sequence_length=40,
        config={"edges": {"coactivation": {"min_count": 3}}},
    )
    return path, perm


def test_builder_makes_a_readable_bundle(small_bundle):
    path, _ = small_bundle
    b = open_bundle(path)
    assert b.sae_ids == ["a", "b", "w"] and b.activations.n_tokens == 1200
    assert {"models", "saes", "datasets", "features"} <= set(b.tables)
    assert b.decoder("w").shape == (80, 24)


def test_run_edges_writes_all_three_tables_and_stats(small_bundle):
    path, perm = small_bundle
    stats = run_edges(path, only=MINE, progress=False)
    assert list(stats) == MINE
    b = open_bundle(path)
    co = b.frame("co_activates")
    assert ("a:0", "a:1") in set(zip(co["source"], co["target"]))
    assert b.manifest["stats"]["coactivation"]["perSae"]["a"]["minCount"] == 3  # the bundle's own config
    assert "nullEdges" in b.manifest["stats"]["coactivation"]
    for name in ("co_activates", "cosine", "matches"):
        t = b.table(name)
        assert set(t.column("runId").to_pylist()) <= {"test-run"}
    cos = b.frame("cosine")
    assert (
        cos["source"].str.split(":").str[1].astype(int) < cos["target"].str.split(":").str[1].astype(int)
    ).all()
    m = b.frame("matches")
    ab = m[(m.sourceSae == "a") & (m.targetSae == "b") & (m.method == "hungarian")]
    a_idx = ab["source"].str.split(":").str[1].astype(int).to_numpy()
    b_idx = ab["target"].str.split(":").str[1].astype(int).to_numpy()
    assert len(ab) == 40 and np.array_equal(perm[b_idx], a_idx)
    assert np.allclose(ab["actCorr"], 1.0, atol=1e-6)  # same activations, permuted
    par = m[(m.method == "parent") & (m.sourceSae == "a") & (m.targetSae == "w")]
    assert len(par) == 40 and (par["source"].str[2:] == par["target"].str[2:]).all()  # w copies a
    pair_stats = b.manifest["stats"]["matches"]["pairs"]
    assert set(pair_stats) == {"a->b", "a->w", "b->w"}
    assert pair_stats["a->w"]["splitting"]["parentSae"] == "a"
    assert "chanceMaxCosine" in b.manifest["stats"]["cosine"]["perSae"]["a"]
    json.dumps(b.manifest, allow_nan=False)  # stats are strict JSON
    assert not (path / ".work").exists()


def test_rerun_one_stage_replaces_only_its_table(small_bundle):
    path, _ = small_bundle
    run_edges(path, only=["cosine"], progress=False)
    before = open_bundle(path).manifest["tables"]["cosine"]["sha256"]
    before_config = open_bundle(path).manifest["config"]["edges"]
    cfg = EdgesConfig(coactivation=CoactivationConfig(min_count=2, null_shift=False))
    run_edges(path, cfg, only=["coactivation"], progress=False)
    b = open_bundle(path)
    assert b.manifest["tables"]["cosine"]["sha256"] == before
    assert b.manifest["stats"]["coactivation"]["perSae"]["a"]["minCount"] == 2
    # the manifest records the settings the rebuilt table was made with, and keeps the others
    assert b.manifest["config"]["edges"]["coactivation"]["min_count"] == 2
    assert b.manifest["config"]["edges"]["coactivation"]["null_shift"] is False
    assert b.manifest["config"]["edges"]["cosine"] == json.loads(json.dumps(before_config["cosine"]))


def test_stage_selection_and_errors():
    cfg = EdgesConfig()
    assert select_stages(cfg, None) == ["coactivation", "cosine", "matches", "flow", "lasso"]
    assert select_stages(cfg, ["matches", "coactivation"]) == ["coactivation", "matches"]
    with pytest.raises(EdgeStageError, match="unknown edge stage"):
        select_stages(cfg, ["bogus"])
    assert StageResult("cosine", pa.table({"x": [1]}), {}).table_name == "cosine"


def test_cli_edges(small_bundle, tmp_path):
    path, _ = small_bundle
    runner = CliRunner()
    res = runner.invoke(
        cli, ["edges", str(path), "--only", "cosine", "--only", "coactivation", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "coactivation" in res.output and "pairs tested" in res.output and "chance max cosine" in res.output
    missing = runner.invoke(cli, ["edges", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "no bundle at" in missing.output
    helptext = runner.invoke(cli, ["edges", "--help"]).output
    assert "Example" in helptext and "--only" in helptext
