"""Shared pytest configuration: offline environment, Neo4j marker, seeded fixtures.

Helpers append new fixtures at the end of this file; keep each one small and seeded.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

# Tests never reach the Hub and never wander onto a GPU.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``neo4j`` unless NEO4J_URI points at a server."""
    if os.environ.get("NEO4J_URI"):
        return
    skip = pytest.mark.skip(reason="needs a Neo4j server: set NEO4J_URI (see docs/neo4j.md)")
    for item in items:
        if "neo4j" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# Source fixtures (saegraph.ingest.sources): tiny saved model / SAEs / text, usable from any test.
from tests.helpers.source_fixtures import (  # noqa: E402,F401
    tiny_mlp_sae_dir,
    tiny_model_dir,
    tiny_sae_dir,
    tiny_text_dir,
    tiny_tokenizer,
)
