"""Sources: the model, the SAEs and the token stream of a run (docs/architecture.md).

Public API (heavy libraries are imported inside the functions):

- ``load_model(cfg) -> LoadedModel``: TransformerLens by name, a local directory
  (:func:`save_local_model`), a Hugging Face architecture through ``TransformerBridge``, or
  the synthetic source.
- ``load_saes(cfg, model) -> list[LoadedSAE]``: SAELens release/id, local directory,
  NeelNanda/sparse_autoencoder converter, synthetic; validated against the model.
- ``iter_batches(cfg, model, start_sequence=0) -> Iterator[TokenBatch]``: deterministic
  batches of whole sequences until ``dataset.n_tokens``.
- ``dataset_info(cfg, model) -> DatasetInfo``; ``write_ground_truth(cfg, model, dir)``.
Every failure a user can fix raises :class:`SourceError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from saegraph.ingest.config import Config
from saegraph.ingest.sources.base import SYNTHETIC_HOOK, DatasetInfo, LoadedModel, LoadedSAE, TokenBatch
from saegraph.ingest.sources.errors import SourceError
from saegraph.ingest.sources.models import save_local_model
from saegraph.ingest.sources.saes import load_saes

__all__ = [
    "SYNTHETIC_HOOK",
    "DatasetInfo",
    "LoadedModel",
    "LoadedSAE",
    "SourceError",
    "TokenBatch",
    "dataset_info",
    "iter_batches",
    "load_ground_truth",
    "load_model",
    "load_saes",
    "save_local_model",
    "write_ground_truth",
]


def load_model(cfg: Config) -> LoadedModel:
    """The run's model, by ``cfg.model.source``."""
    from saegraph.ingest.sources import models, synthetic

    loaders = {
        "transformer_lens": models.load_transformer_lens,
        "local": models.load_local,
        "bridge": models.load_bridge,
        "synthetic": synthetic.load_synthetic_model,
    }
    return loaders[cfg.model.source](cfg)


def iter_batches(cfg: Config, model: LoadedModel, *, start_sequence: int = 0) -> Iterator[TokenBatch]:
    """Batches of ``activations.batch_size`` sequences, from sequence ``start_sequence`` on."""
    if start_sequence < 0:
        raise SourceError(f"start_sequence must be >= 0, got {start_sequence}")
    if model.is_synthetic:
        from saegraph.ingest.sources.synthetic import iter_synthetic_batches

        return iter_synthetic_batches(cfg, model, start_sequence)
    from saegraph.ingest.sources.datasets import iter_token_batches

    return iter_token_batches(cfg, model, start_sequence)


def dataset_info(cfg: Config, model: LoadedModel) -> DatasetInfo:
    """Name, source and content fingerprint of the token stream."""
    if model.is_synthetic:
        from saegraph.ingest.sources.synthetic import synthetic_dataset_info

        return synthetic_dataset_info(cfg)
    from saegraph.ingest.sources.datasets import token_dataset_info

    return token_dataset_info(cfg, model)


def write_ground_truth(cfg: Config, model: LoadedModel, directory: Path) -> None:
    """Synthetic runs: write the planted truth into ``directory``; other runs: nothing to write."""
    if not model.is_synthetic:
        return
    from saegraph.ingest.sources.synthetic import write_synthetic_ground_truth

    write_synthetic_ground_truth(model, Path(directory))


def load_ground_truth(directory: str | Path) -> dict:
    """The arrays and metadata :func:`write_ground_truth` wrote."""
    from saegraph.ingest.sources.synthetic import load_ground_truth as _load

    return _load(directory)
