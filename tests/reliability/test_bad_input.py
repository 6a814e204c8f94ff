"""Bad input gets a clear error and changes nothing.

Each case checks three things: the error is a specific exception (Python API) or a one-line
``Error:`` with a non-zero exit and no traceback (CLI); the store's node and relationship
counts are identical before and after; and the bundle's files are byte-identical.
Cases: truncated Parquet, garbage manifest, missing table file, truncated activation
chunk, a bundle of a newer format, wrong types in the run config, unknown query names and
parameters, and labels / relationship types / write-back properties outside the allowlist
(injection attempts through ``saegraph query -p`` and the Python API).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.activation_store import ActivationChunk, ActivationStore, ActivationStoreError
from saegraph.ingest.bundle import BundleError, open_bundle
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import open_store, run
from saegraph.queries.registry import QueryError
from tests.helpers.reliability import POOL, snapshot_files, store_counts
from tests.helpers.store_fixtures import make_graph_bundle

INJECTIONS = (
    "CO_ACTIVATES]->() DETACH DELETE n //",
    "CO_ACTIVATES]-() MATCH (n) DETACH DELETE n //",
    "LASSO`]->() DETACH DELETE n //",
    "co_activates|LASSO",
)
N_FEATURES = 40


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A loaded store (run A) and a pristine bundle B with activations, copied per test."""
    root = tmp_path_factory.mktemp("bad")
    a = make_graph_bundle(root / "a", n_saes=2, n_features=N_FEATURES, seed=21)
    b = make_graph_bundle(
        root / "b", n_saes=2, n_features=N_FEATURES, seed=22, run_id="20240404T000000-feedface"
    )
    rng = np.random.default_rng(0)
    store = ActivationStore(b / "activations", sae_widths={"s0": N_FEATURES, "s1": N_FEATURES})
    n = 256
    acts = {
        s: sp.random(n, N_FEATURES, density=0.1, format="csr", dtype=np.float32, random_state=rng)
        for s in ("s0", "s1")
    }
    store.append(
        ActivationChunk(
            0,
            np.arange(n, dtype=np.int32) % 50,
            np.repeat(np.arange(8), 32),
            np.tile(np.arange(32, dtype=np.int32), 8),
            acts,
        ),
        nextSequence=8,
    )
    db = root / "db"
    with open_store(store_dir=db, buffer_pool_size=POOL) as s:
        load_bundle_embedded(a, s, progress=False)
        counts = store_counts(s)
    return {"a": a, "b": b, "db": db, "counts": counts}


@pytest.fixture
def bundle(world, tmp_path):
    """A fresh copy of bundle B to damage."""
    dst = tmp_path / "b"
    shutil.copytree(world["b"], dst)
    return dst


def counts_of(db) -> dict[str, int]:
    with open_store(store_dir=db, read_only=True, buffer_pool_size=POOL) as s:
        return store_counts(s)


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_cli_error(result, *fragments: str) -> None:
    """Non-zero exit through click (no uncaught exception), one ``Error:`` line naming the problem."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}:\n{result.output}"
    assert "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.output
    for frag in fragments:
        assert frag.lower() in errors[0].lower(), errors[0]


# ------------------------------------------------------------------ damaged bundles
def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _damage_parquet(b):
    _truncate(b / "features.parquet")


def _damage_manifest(b):
    (b / "manifest.json").write_text("{ this is not json ]")


def _drop_table(b):
    (b / "lasso.parquet").unlink()


def _newer_format(b):
    m = json.loads((b / "manifest.json").read_text())
    m["formatVersion"] = 99
    (b / "manifest.json").write_text(json.dumps(m))


DAMAGES = {
    "truncated-parquet": (_damage_parquet, "checksum"),
    "garbage-manifest": (_damage_manifest, "not valid JSON"),
    "missing-table": (_drop_table, "lacks lasso.parquet"),
    "newer-format": (_newer_format, "upgrade saegraph"),
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_bundle_is_refused_by_api_and_cli(world, bundle, case):
    damage, message = DAMAGES[case]
    damage(bundle)
    before = snapshot_files(bundle)
    with pytest.raises(BundleError, match=message):
        open_bundle(bundle)
    with open_store(store_dir=world["db"], buffer_pool_size=POOL) as s:
        with pytest.raises(BundleError, match=message):
            load_bundle_embedded(bundle, s, progress=False)
    assert_clean_cli_error(invoke("load", bundle, "--store", world["db"], "--no-progress"), message)
    assert_clean_cli_error(invoke("inspect", bundle), message)
    assert_clean_cli_error(invoke("edges", bundle, "--only", "cosine", "--no-progress"), message)
    assert counts_of(world["db"]) == world["counts"]
    assert snapshot_files(bundle) == before


def test_truncated_activation_chunk_api(bundle):
    _truncate(bundle / "activations" / "chunk_00000" / "s0.npz")
    before = snapshot_files(bundle)
    acts = open_bundle(bundle).activations
    with pytest.raises(ActivationStoreError, match="unreadable"):
        acts.load_chunk(0)
    assert snapshot_files(bundle) == before


def test_truncated_activation_chunk_cli(bundle):
    _truncate(bundle / "activations" / "chunk_00000" / "s0.npz")
    before = snapshot_files(bundle)
    result = invoke("edges", bundle, "--only", "coactivation", "--no-progress")
    assert snapshot_files(bundle) == before
    assert_clean_cli_error(result, "re-run `saegraph ingest`")


# ------------------------------------------------------------------ config types
TINY_CONFIG = """
[run]
name = "bad-types"
[model]
source = "synthetic"
[dataset]
source = "synthetic"
n_tokens = 2000
[[saes]]
id = "a"
source = "synthetic"
synthetic_mode = "truth"
"""


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("n_tokens = 2000", 'n_tokens = "many"', "dataset.n_tokens must be an integer"),
        ("n_tokens = 2000", "n_tokens = 2000.5", "dataset.n_tokens must be an integer"),
        ('synthetic_mode = "truth"', 'synthetic_mode = "truth"\nseed = true', "seed must be an integer"),
        ("[run]", "[run]\nseed = [1, 2]", "run.seed must be an integer"),
        (
            "[[saes]]",
            '[edges.lasso]\nreplicates = "thirty"\n[[saes]]',
            "edges.lasso.replicates must be an integer",
        ),
        ("[[saes]]", "[edges]\ncosine = 3\n[[saes]]", "edges.cosine must be a table"),
        ("[[saes]]", '[edges.lasso]\nscreen = "twice"\n[[saes]]', "edges.lasso.screen"),
        ('source = "synthetic"\n[dataset]', 'source = "quantum"\n[dataset]', "model.source"),
    ],
)
def test_wrong_config_types_fail_in_one_line(tmp_path, old, new, message):
    assert old in TINY_CONFIG
    cfg = tmp_path / "bad.toml"
    cfg.write_text(TINY_CONFIG.replace(old, new, 1))
    result = invoke("ingest", cfg, "-o", tmp_path / "out", "--quiet")
    assert_clean_cli_error(result, message)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


# ------------------------------------------------------------------ queries
def test_unknown_query_name_and_parameter(world):
    with open_store(store_dir=world["db"], read_only=True, buffer_pool_size=POOL) as s:
        with pytest.raises(QueryError, match="unknown query 'lookup.nope'.*lookup.feature_card"):
            run(s, "lookup.nope")
        with pytest.raises(QueryError, match=r"has no parameter\(s\) \['limit'\].*featureId"):
            run(s, "lookup.feature_card", featureId="s0:1", limit=3)
        with pytest.raises(QueryError, match=r"needs parameter\(s\) \['featureId'\]"):
            run(s, "lookup.feature_card")
        with pytest.raises(QueryError, match="not a valid int"):
            run(s, "neighbors.top_k", featureId="s0:1", relType="LASSO", k="ten")
    db = world["db"]
    assert_clean_cli_error(invoke("query", "lookup.nope", "--store", db), "unknown query")
    assert_clean_cli_error(
        invoke("query", "lookup.feature_card", "-p", "featureId=s0:1", "-p", "limit=3", "--store", db),
        "has no parameter",
    )
    assert_clean_cli_error(
        invoke(
            "query",
            "neighbors.top_k",
            "-p",
            "featureId=s0:1",
            "-p",
            "relType=LASSO",
            "-p",
            "k=ten",
            "--store",
            db,
        ),
        "not a valid int",
    )
    assert counts_of(db) == world["counts"]


def test_values_are_parameters_not_text(world):
    """Injection text in a *value* is just a feature id that matches nothing."""
    with open_store(store_dir=world["db"], read_only=True, buffer_pool_size=POOL) as s:
        for evil in ("s0:1' }) DETACH DELETE n //", 's0:1"}) MATCH (n) DETACH DELETE n //'):
            assert run(s, "lookup.feature_card", featureId=evil).empty
            assert run(s, "neighbors.top_k", featureId=evil, relType="LASSO").empty
    assert counts_of(world["db"]) == world["counts"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_rel_type_injection_python_api(world, evil):
    with open_store(store_dir=world["db"], buffer_pool_size=POOL) as s:
        with pytest.raises(ValueError, match="unknown relationship type"):
            run(s, "neighbors.top_k", featureId="s0:1", relType=evil)
        with pytest.raises(ValueError, match="unknown relationship type"):
            s.edges(evil)
        with pytest.raises(ValueError):
            s.write_feature_property(evil, pd.DataFrame({"featureId": ["s0:1"], "value": [1]}))
        with pytest.raises(ValueError):
            s.copy_from(evil, pd.DataFrame({"a": [1]}))
        with pytest.raises(QueryError, match="not allowed here"):
            run(s, "communities.summary", relType="MATCHES")  # allowlisted type, restricted slot
        assert store_counts(s) == world["counts"]


def _cli_injection(world, evil):
    return invoke(
        "query", "neighbors.top_k", "-p", "featureId=s0:1", "-p", f"relType={evil}", "--store", world["db"]
    )


@pytest.mark.parametrize("evil", INJECTIONS)
def test_rel_type_injection_cli_changes_nothing(world, evil):
    result = _cli_injection(world, evil)
    assert result.exit_code != 0
    assert "unknown relationship type" in str(result.exception) + result.output
    assert counts_of(world["db"]) == world["counts"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_rel_type_injection_cli_is_one_line_error(world, evil):
    assert_clean_cli_error(
        _cli_injection(world, evil), "unknown relationship type", "CO_ACTIVATES", "MATCHES"
    )


def test_write_back_property_injection_python_api(world):
    frame = pd.DataFrame({"featureId": ["s0:1"], "value": [1]})
    with open_store(store_dir=world["db"], buffer_pool_size=POOL) as s:
        for evil in ("communityLasso = 1 DETACH DELETE f //", "featureId", "community"):
            with pytest.raises(ValueError, match="is not a valid FeatureProperty"):
                s.write_feature_property(evil, frame)
        assert store_counts(s) == world["counts"]
