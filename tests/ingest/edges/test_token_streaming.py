"""Edge stages streaming tokens from disk under a memory budget (``stats.stream``) give the tables
and statistics of the in-memory path, and never stack all tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationStore
from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.config import CoactivationConfig, FlowConfig, MatchesConfig
from saegraph.ingest.edges.coactivation.counting import binary_pattern
from saegraph.ingest.edges.coactivation.stage import coactivation_unit
from saegraph.ingest.edges.flow.stage import flow_unit
from saegraph.ingest.edges.matches.stage import matches_unit
from saegraph.ingest.edges.stats.moments import column_moments
from saegraph.ingest.edges.stats.nulls import circular_shift_pattern
from saegraph.ingest.edges.stats.stream import (
    ENTRY_BYTES,
    META_BYTES,
    TOKEN_BYTES,
    MomentAccumulator,
    TokenBlocks,
    budget_bytes,
    csr_bytes,
    sequence_segments,
    token_blocks,
)
from tests.helpers.builders import make_bundle_from_arrays

TINY_MB = 4 / 1024  # 4 KiB: about two sequences of one SAE per block
LAYERS = {"a": 0, "b": 1, "w": 2}
VOLATILE = {"streamed", "tokenBlocks", "blockRows"}  # how the tokens were read, not what was found


def _arrays():
    rng = np.random.default_rng(11)
    n, d = 1200, 24
    base = rng.random((n, 40)) < 0.05
    base[:, 1] |= base[:, 0]
    base[:, 3] |= base[:, 2] & (rng.random(n) < 0.7)
    base[:, 4] = rng.random(n) < 0.4  # 4 and 5 fire often but never together: EXCLUDES
    base[:, 5] = ~base[:, 4] & (rng.random(n) < 0.5)
    acts_a = sp.csr_matrix((base * rng.uniform(0.5, 2, base.shape)).astype(np.float32))
    perm = rng.permutation(40)
    # the wide SAE splits every latent of "a" in two children (mostly one at a time)
    first = rng.random(n) < 0.5
    both = rng.random(n) < 0.2
    split = base * rng.uniform(0.5, 2, base.shape)
    child_1 = split * (first | both)[:, None]
    child_2 = split * (~first | both)[:, None]
    wide = sp.csr_matrix(np.hstack([child_1, child_2]).astype(np.float32))
    w_a = rng.standard_normal((40, d)).astype(np.float32)
    w_b = w_a[perm] + 0.1 * rng.standard_normal((40, d)).astype(np.float32)
    w_w = np.vstack([w_a, w_a]) + 0.3 * rng.standard_normal((80, d))
    return {"a": acts_a, "b": acts_a[:, perm], "w": wide}, {"a": w_a, "b": w_b, "w": w_w.astype(np.float32)}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    acts, decoders = _arrays()
    path = make_bundle_from_arrays(
        tmp_path_factory.mktemp("streaming") / "bundle",
        acts,
        decoders,
        sequence_length=40,
        layers=LAYERS,
        sequences_per_chunk=12,  # 3 chunks of <= 480 tokens: blocks split chunks
    )
    return open_bundle(path)


def _strip(stats):
    """Statistics without timings and the streaming bookkeeping."""
    if isinstance(stats, dict):
        return {k: _strip(v) for k, v in stats.items() if k not in VOLATILE and not k.startswith("seconds")}
    if isinstance(stats, float) and np.isnan(stats):
        return "nan"
    return stats


def _assert_same(frames_mem: dict, frames_str: dict):
    assert frames_mem.keys() == frames_str.keys()
    for name in frames_mem:
        pd.testing.assert_frame_equal(frames_mem[name], frames_str[name], check_exact=True)


# ------------------------------------------------------------------ the reader
def test_blocks_are_whole_sequences_within_the_budget_and_cover_every_token(bundle):
    store = bundle.activations
    acts, seqs, _ = store.stack("a")
    budget = budget_bytes(TINY_MB)
    assert csr_bytes(store, ["a"]) == ENTRY_BYTES * acts.nnz + (TOKEN_BYTES + META_BYTES) * acts.shape[0]
    blocks = token_blocks(store, ["a"], TINY_MB)
    assert blocks.streamed and blocks.n_tokens == acts.shape[0]
    parts = list(blocks)
    assert blocks.n_blocks == len(parts) >= 4 * store.n_chunks
    seen: set[int] = set()
    for part in parts:
        m = part.acts[0]
        ids = np.unique(part.sequence_ids)
        assert not seen & set(ids.tolist())  # no sequence is split between blocks
        seen |= set(ids.tolist())
        size = ENTRY_BYTES * m.nnz + (TOKEN_BYTES + META_BYTES) * m.shape[0]
        assert size <= budget or ids.size == 1
    stacked = sp.vstack([p.acts[0] for p in parts], format="csr")
    assert (stacked != acts).nnz == 0
    np.testing.assert_array_equal(np.concatenate([p.sequence_ids for p in parts]), seqs)
    assert [p.first_segment for p in parts] == list(
        np.cumsum([0] + [np.unique(p.sequence_ids).size for p in parts])[:-1]
    )
    assert blocks.n_segments == sequence_segments(seqs).size - 1
    assert not token_blocks(store, ["a"], 1024.0).streamed  # the default budget holds the stack


def test_streamed_moments_and_null_equal_the_stacked_ones_bit_for_bit(bundle):
    store = bundle.activations
    acts, seqs, _ = store.stack("w")
    blocks = token_blocks(store, ["w"], TINY_MB)
    acc = MomentAccumulator(acts.shape[1])
    ref_ptr, ref_idx = circular_shift_pattern(*binary_pattern(acts), sequence_segments(seqs), np.uint64(5))
    rows = []
    for b in blocks:
        acc.add(b.acts[0])
        ptr, idx = circular_shift_pattern(
            *binary_pattern(b.acts[0]), b.segments(), np.uint64(5), b.first_segment
        )
        rows.append(sp.csr_matrix((np.ones(idx.size), idx, ptr), shape=b.acts[0].shape))
    got, ref = acc.result(), column_moments(acts)
    for field in ("n", "firings", "sums", "sumsq", "mean", "sd"):
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))
    shifted = sp.vstack(rows, format="csr")
    np.testing.assert_array_equal(shifted.indptr, ref_ptr)
    np.testing.assert_array_equal(shifted.indices, ref_idx)


def test_in_memory_blocks_of_one_matrix():
    m = sp.random(50, 7, density=0.2, format="csr", dtype=np.float32, random_state=1)
    blocks = TokenBlocks.in_memory([m])
    assert not blocks.streamed and not blocks.has_sequences and len(list(blocks)) == 1
    swapped = TokenBlocks.in_memory([m, m[:, :3]]).reordered((1, 0))
    assert swapped.widths == (3, 7) and next(iter(swapped)).acts[0].shape == (50, 3)


# ------------------------------------------------------------------ the stages
def test_coactivation_streamed_equals_in_memory(bundle, monkeypatch):
    cfg = CoactivationConfig(min_count=3, block_rows=16)  # 3 and 5 passes over the tokens
    mem = {sid: coactivation_unit(bundle, (sid,), config=cfg, run_id="r", seed=3) for sid in ("a", "w")}
    with monkeypatch.context() as m:
        m.setattr(ActivationStore, "stack", _refuse)
        tiny = CoactivationConfig(min_count=3, block_rows=16, token_memory_mb=TINY_MB)
        streamed = {
            sid: coactivation_unit(bundle, (sid,), config=tiny, run_id="r", seed=3) for sid in ("a", "w")
        }
    for sid in ("a", "w"):
        (f_mem, s_mem), (f_str, s_str) = mem[sid], streamed[sid]
        assert not s_mem["streamed"] and s_mem["tokenBlocks"] == 1
        assert s_str["streamed"] and s_str["tokenBlocks"] >= 4
        assert len(f_mem["co_activates"]) > 0 and len(f_mem["excludes"]) > 0
        assert s_mem["null"]["nSegments"] == s_str["null"]["nSegments"] == 30
        _assert_same(f_mem, f_str)
        assert _strip(s_mem) == _strip(s_str)


def test_matches_streamed_equals_in_memory(bundle, monkeypatch):
    pairs = [("a", "b"), ("a", "w")]  # equal widths, and a splitting pair
    cfg = MatchesConfig(block_rows=16)  # 3 passes over A's features
    mem = {p: matches_unit(bundle, p, config=cfg, run_id="r", seed=3) for p in pairs}
    with monkeypatch.context() as m:
        m.setattr(ActivationStore, "stack", _refuse)
        tiny = MatchesConfig(token_memory_mb=2 * TINY_MB, block_rows=16)
        streamed = {p: matches_unit(bundle, p, config=tiny, run_id="r", seed=3) for p in pairs}
    for p in pairs:
        (f_mem, s_mem), (f_str, s_str) = mem[p], streamed[p]
        assert (
            s_str["activationCorrelation"]["streamed"] and s_str["activationCorrelation"]["tokenBlocks"] >= 4
        )
        assert np.isfinite(f_mem["matches"]["actCorr"]).any()
        _assert_same(f_mem, f_str)
        assert _strip(s_mem) == _strip(s_str)
    split = mem[("a", "w")][1]["splitting"]
    assert split["cooccurrenceCriterion"] and split["parentsWithTwoOrMore"] > 0
    assert 0 < split["meanExclusivity"] < 1


def test_flow_streamed_equals_in_memory(bundle, monkeypatch):
    pairs = [("a", "b"), ("b", "w")]
    mem = {p: flow_unit(bundle, p, layers=LAYERS, config=FlowConfig(), run_id="r") for p in pairs}
    with monkeypatch.context() as m:
        m.setattr(ActivationStore, "stack", _refuse)
        tiny = FlowConfig(token_memory_mb=2 * TINY_MB)
        streamed = {p: flow_unit(bundle, p, layers=LAYERS, config=tiny, run_id="r") for p in pairs}
    for p in pairs:
        (f_mem, s_mem), (f_str, s_str) = mem[p], streamed[p]
        assert s_str["activationCheck"]["streamed"] and not s_mem["activationCheck"]["streamed"]
        assert np.isfinite(f_mem["flows_to"]["actCorr"]).any()
        _assert_same(f_mem, f_str)
        assert _strip(s_mem) == _strip(s_str)


def _refuse(self, sae_id):
    raise AssertionError(f"the streamed path stacked all tokens of {sae_id}")
