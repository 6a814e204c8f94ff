"""Atomic bundle writes; the reader refuses half-written, newer or corrupted bundles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationChunk, ActivationStore, ActivationStoreError
from saegraph.ingest.bundle import (
    FORMAT_VERSION,
    BundleBuilder,
    BundleError,
    open_bundle,
    partial_path,
    update_bundle,
)


def build(path, run_id="r-1"):
    b = BundleBuilder(path)
    b.write_table("saes", pd.DataFrame({"saeId": ["s0"], "dSae": [4]}))
    b.write_table("features", pd.DataFrame({"featureId": [f"s0:{i}" for i in range(4)], "index": range(4)}))
    b.write_decoder("s0", np.eye(4, 3))
    b.manifest["runId"] = run_id
    return b


def test_roundtrip(tmp_path):
    p = build(tmp_path / "b").finalize()
    assert not partial_path(p).exists()
    b = open_bundle(p)
    assert b.run_id == "r-1" and b.sae_ids == ["s0"]
    assert b.manifest["formatVersion"] == FORMAT_VERSION
    assert b.tables["features"]["rows"] == 4
    assert b.frame("features")["featureId"].tolist()[-1] == "s0:3"
    np.testing.assert_array_equal(b.decoder("s0"), np.eye(4, 3, dtype=np.float32))


def test_half_written_bundle_refused(tmp_path):
    build(tmp_path / "b")  # never finalized
    with pytest.raises(BundleError, match="not a finished bundle"):
        open_bundle(tmp_path / "b")
    with pytest.raises(BundleError, match="half-written"):
        open_bundle(partial_path(tmp_path / "b"))


def test_newer_format_refused(tmp_path):
    p = build(tmp_path / "b").finalize()
    m = json.loads((p / "manifest.json").read_text())
    m["formatVersion"] = FORMAT_VERSION + 1
    (p / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="upgrade saegraph"):
        open_bundle(p)


def test_corrupted_table_refused(tmp_path):
    p = build(tmp_path / "b").finalize()
    f = p / "features.parquet"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(BundleError, match="checksum"):
        open_bundle(p)
    open_bundle(p, verify=False)  # explicit opt-out still opens


def test_update_replaces_table_and_stats(tmp_path):
    p = build(tmp_path / "b").finalize()
    update_bundle(
        p,
        tables={"cosine": pd.DataFrame({"source": ["s0:0"], "target": ["s0:1"]})},
        stats={"cosine": {"edges": 1}},
    )
    b = open_bundle(p)
    assert b.has_table("cosine") and b.stats["cosine"] == {"edges": 1}
    update_bundle(p, drop_tables=("cosine",))
    assert not open_bundle(p).has_table("cosine")
    assert not (p / "cosine.parquet").exists()


def test_finished_bundle_is_not_overwritten(tmp_path):
    p = build(tmp_path / "b").finalize()
    with pytest.raises(BundleError, match="already a finished bundle"):
        BundleBuilder(p)


def test_activation_store_roundtrip_and_crash_leftovers(tmp_path, rng):
    st = ActivationStore(tmp_path / "a", sae_widths={"s0": 5})
    m = sp.random(6, 5, density=0.4, format="csr", random_state=0, dtype=np.float32)
    st.append(
        ActivationChunk(0, np.arange(6), np.repeat([0, 1], 3), np.tile(np.arange(3), 2), {"s0": m}),
        nextSequence=2,
    )
    (tmp_path / "a" / "chunk_00001.tmp-999").mkdir()  # a crash mid-write
    (tmp_path / "a" / "chunk_00001").mkdir()  # a crash after rename, before the index update
    st2 = ActivationStore(tmp_path / "a")
    assert st2.n_chunks == 1 and st2.chunks[0]["nextSequence"] == 2
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["chunk_00000", "index.json"]
    assert (st2.load_chunk(0).acts["s0"] != m).nnz == 0
    with pytest.raises(ActivationStoreError, match="out of order"):
        st2.append(ActivationChunk(5, np.arange(6), np.zeros(6), np.zeros(6), {"s0": m}))
    with pytest.raises(ActivationStoreError, match="not"):
        ActivationStore(tmp_path / "a", sae_widths={"other": 3})
