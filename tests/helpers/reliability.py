"""Shared helpers for the reliability suite: a tiny synthetic config, CLI subprocesses, store counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

POOL = 128 * 1024 * 1024  # embedded buffer pool for tests

# Synthetic run with many small chunks (8 sequences of 64 tokens a batch, chunk_tokens 512
# -> ~12 chunks over 6k tokens), so a kill lands between chunks. Edges are on, kept small.
CHUNKED = """
[run]
name = "syn-reliability"
[model]
source = "synthetic"
[synthetic]
num_features = 48
hidden_dim = 24
n_correlated_pairs = 6
hierarchy_branching = 2
[dataset]
source = "synthetic"
n_tokens = 6000
context_size = 64
[activations]
chunk_tokens = 512
batch_size = 8
[[saes]]
id = "a"
source = "synthetic"
synthetic_mode = "truth"
seed = 1
[[saes]]
id = "b"
source = "synthetic"
synthetic_mode = "truth"
seed = 2
[edges.lasso]
replicates = 3
min_firings = 10
"""


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a ``python -m saegraph`` subprocess: one thread, offline, no Neo4j URI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def saegraph_cmd(*args: str | os.PathLike) -> list[str]:
    return [sys.executable, "-m", "saegraph", *map(str, args)]


def run_cli(
    *args: str | os.PathLike, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        saegraph_cmd(*args), env=env or cli_env(), capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def store_counts(store) -> dict[str, int]:
    """Node and relationship counts of every table of an embedded store (whole store)."""
    from saegraph.schema.graph import RelType

    out: dict[str, int] = {}
    for label in ("Model", "SAE", "Dataset", "Run", "Feature"):
        out[label] = int(store.run(f"MATCH (n:{label}) RETURN count(n) AS n")["n"].iloc[0])
    for rel in ("IN_SAE", "OF_MODEL", "PRODUCED", "USED", *(t.value for t in RelType)):
        out[rel] = int(store.run(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")["n"].iloc[0])
    return out


def distinct_rel_keys(store, rel: str) -> tuple[int, int]:
    """(relationships, distinct (source, target, runId) keys) of one feature-to-feature type."""
    total = int(store.run(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")["n"].iloc[0])
    keys = store.run(
        f"MATCH (a)-[r:{rel}]->(b) RETURN DISTINCT a.featureId AS s, b.featureId AS t, r.runId AS run"
    )
    return total, len(keys)


def snapshot_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), to prove a bundle is untouched."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
