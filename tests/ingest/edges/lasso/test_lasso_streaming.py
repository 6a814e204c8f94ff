"""The LASSO stage with its tokens streamed from disk under ``token_memory_mb`` (``lasso.tokens``)
gives the table and statistics of the stacked path, and never stacks all tokens."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import saegraph.ingest.edges.lasso.stage as lasso_stage
from saegraph.ingest.activation_store import ActivationStore
from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import LassoConfig
from saegraph.ingest.edges.lasso.stage import lasso_unit
from saegraph.ingest.edges.lasso.tokens import LassoStreamingError, check_store_order
from tests.helpers.builders import make_bundle_from_arrays
from tests.helpers.lasso_synthetic import planted_activations

TINY_MB = 8 / 1024  # 8 KiB: about eight 16-token sequences per block
VOLATILE = {"streamed", "tokenBlocks"}  # how the tokens were read, not what was found
# dense covariates (dense_density) and every replicate keeping all its edges
BASE = LassoConfig(replicates=3, frequency_strata=1, keep="all", min_firings=10, dense_density=0.05)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = planted_activations(160, 16, 48, l0=4, n_trees=2, n_pairs=3, planted_rate=0.1, seed=8)
    rng = np.random.default_rng(0)
    path = make_bundle_from_arrays(
        tmp_path_factory.mktemp("lasso_streaming") / "bundle",
        {"s0": d.acts},
        {"s0": rng.normal(size=(48, 8))},
        16,
        sequences_per_chunk=40,  # 4 chunks, each cut into several blocks
    )
    return open_bundle(path)


def _strip(stats):
    """Statistics without timings and the streaming bookkeeping."""
    if isinstance(stats, dict):
        return {k: _strip(v) for k, v in stats.items() if k not in VOLATILE and not k.startswith("seconds")}
    if isinstance(stats, list):
        return [_strip(v) for v in stats]
    if isinstance(stats, float) and np.isnan(stats):
        return "nan"
    return stats


def _refuse(*args, **kwargs):
    raise AssertionError("the streamed LASSO stacked all tokens")


def _streamed(bundle, monkeypatch, config: LassoConfig, **kw):
    with monkeypatch.context() as m:
        m.setattr(ActivationStore, "stack", _refuse)
        m.setattr(lasso_stage, "nonempty_activations", _refuse)
        return lasso_unit(bundle, ("s0",), config=config, run_id="r", seed=3, **kw)


@pytest.mark.parametrize(
    "changes",
    [
        {},  # defaults: deflated n_eff, one block of the screen's triangle
        {"n_eff": "sequences", "block_entries": 1024},  # the screen's triangle in 2 passes
    ],
)
def test_streamed_lasso_equals_stacked(bundle, monkeypatch, changes):
    cfg = replace(BASE, **changes)
    f_mem, s_mem = lasso_unit(bundle, ("s0",), config=cfg, run_id="r", seed=3, work_dir=None)
    f_str, s_str = _streamed(bundle, monkeypatch, replace(cfg, token_memory_mb=TINY_MB), work_dir=None)
    assert not s_mem["streamed"] and s_mem["tokenBlocks"] == 1
    assert s_str["streamed"] and s_str["tokenBlocks"] >= 4
    assert len(f_mem["lasso"]) > 0 and s_mem["denseCovariates"]
    pd.testing.assert_frame_equal(f_mem["lasso"], f_str["lasso"], check_exact=True)
    assert _strip(s_mem) == _strip(s_str)


def test_replicate_checkpoints_serve_either_path(bundle, monkeypatch, tmp_path):
    """How the tokens are read is not part of the checkpoints' fingerprint."""
    f_mem, _ = lasso_unit(bundle, ("s0",), config=BASE, run_id="r", seed=3, work_dir=tmp_path)
    calls: list[int] = []
    real_compute = lasso_stage._compute_replicate
    monkeypatch.setattr(
        lasso_stage, "_compute_replicate", lambda r, *a, **k: calls.append(r) or real_compute(r, *a, **k)
    )
    f_str, s_str = _streamed(bundle, monkeypatch, replace(BASE, token_memory_mb=TINY_MB), work_dir=tmp_path)
    assert calls == [] and s_str["streamed"]
    pd.testing.assert_frame_equal(f_mem["lasso"], f_str["lasso"], check_exact=True)


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"null": "permutation"}, "edges.lasso.null"),
        ({"screen": "per_replicate"}, "edges.lasso.screen"),
        ({"max_sequence_pair_entries": 1}, "max_sequence_pair_entries"),  # no per_replicate fallback
    ],
)
def test_settings_that_cannot_stream_raise_naming_the_setting(bundle, monkeypatch, changes, setting):
    cfg = replace(BASE, token_memory_mb=TINY_MB, **changes)
    with pytest.raises(LassoStreamingError, match=setting):
        _streamed(bundle, monkeypatch, cfg, work_dir=None)


def test_store_out_of_sequence_order_is_refused():
    chunks = {0: ([0, 0, 1, 1], [0, 1, 0, 1]), 1: ([1, 2], [2, 0])}  # sequence 1 split over two chunks

    def load_chunk(index, sae_ids=None):
        seqs, pos = chunks[index]
        return SimpleNamespace(sequence_ids=np.array(seqs), positions=np.array(pos))

    store = SimpleNamespace(path="acts", chunks=[{"chunk": 0}, {"chunk": 1}], load_chunk=load_chunk)
    with pytest.raises(LassoStreamingError, match="chunk 1"):
        check_store_order(store, 1.0)
    chunks[1] = ([2, 3], [0, 0])
    check_store_order(store, 1.0)
    chunks[0] = ([0, 0, 1, 1], [1, 0, 0, 1])  # positions out of order inside sequence 0
    with pytest.raises(LassoStreamingError, match="chunk 0"):
        check_store_order(store, 1.0)
