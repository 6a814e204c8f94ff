"""Run configuration: a TOML file mapped onto frozen dataclasses.

1. ``load_config(path)`` parses TOML with ``tomllib``; ``config_from_mapping`` first expands
   each ``[[sae_families]]`` table into ``[[saes]]`` tables (module ``sae_families``).
2. ``from_dict`` (``config_coerce``) builds each section's dataclass, refusing unknown keys and
   values of the wrong type with one line that names the key and the fix.
3. Each dataclass checks its own values in ``__post_init__`` (the only place validation
   lives), so a config built in Python is checked the same way as one read from TOML.
4. ``to_dict`` gives the resolved config (defaults filled in) for the bundle manifest: the
   expanded ``saes``, and the family tables under ``declared_sae_families`` (a record).

Defaults follow docs/methods.md; every one of them is a field here.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from saegraph.ingest.config_checks import ID_PATTERN, ConfigError
from saegraph.ingest.config_checks import check as _check
from saegraph.ingest.config_checks import check_choice as _check_choice
from saegraph.ingest.config_checks import check_prob as _check_prob
from saegraph.ingest.config_coerce import from_dict
from saegraph.ingest.edge_config import (  # noqa: F401 (the [edges.*] sections, re-exported)
    CoactivationConfig,
    CosineConfig,
    EdgesConfig,
    FlowConfig,
    LassoConfig,
    MatchesConfig,
)
from saegraph.ingest.sae_families import RECORD_KEY, SAEFamilyConfig, expand_families


@dataclass(frozen=True)
class RunConfig:
    name: str = "saegraph-run"
    """Human-readable run name, stored on the :Run node."""
    seed: int = 0
    """Seed for every random choice of the run (subsamples, nulls, synthetic data)."""
    device: str = "cpu"
    """Torch device for the model/SAE forward pass (``cpu``, ``cuda``, ``cuda:1``, ``mps``), or
    ``auto``: ``cuda`` when torch sees a CUDA GPU, else ``mps`` when available, else ``cpu``
    (``resolve_device``; the pass records the device it used in the manifest stats). The default
    stays ``cpu`` so that a config gives the same bytes on every machine (CI, a laptop with MPS,
    a workstation with a GPU); GPU runs are asked for by name or with ``auto``."""

    def __post_init__(self) -> None:
        _check(bool(self.name.strip()), "run.name must not be empty")
        _check(bool(self.device.strip()), 'run.device must not be empty (use "cpu", "cuda" or "auto")')

    @property
    def torch_device(self) -> str:
        """``device`` with ``auto`` resolved for this machine."""
        return resolve_device(self.device)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` / ``mps`` / ``cpu``, whichever torch can use here first; other names as given."""
    if name != "auto":
        return name
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


@dataclass(frozen=True)
class ModelConfig:
    source: Literal["transformer_lens", "local", "bridge", "synthetic"] = "transformer_lens"
    """Where the model comes from: a TransformerLens name (``HookedTransformer.from_pretrained``),
    a local directory saved by saegraph/TransformerLens, a Hugging Face architecture run
    through ``TransformerBridge``, or ``sae_lens.synthetic`` (no language model)."""
    name: str = ""
    """Model name (TransformerLens or Hugging Face id, e.g. ``gelu-1l``); required for
    ``transformer_lens``; also the modelId unless ``id`` is set."""
    path: str = ""
    """Local directory for ``source = "local"`` (or a local HF snapshot for ``bridge``)."""
    id: str = ""
    """Stable model id in the graph; defaults to ``name`` with unsafe characters replaced."""
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    """Weights dtype for the model's forward pass (``float16``/``bfloat16`` halve its memory and
    use a GPU's tensor cores); the SAEs encode in ``activations.sae_dtype``."""

    def __post_init__(self) -> None:
        _check_choice("model.source", self.source, ("transformer_lens", "local", "bridge", "synthetic"))
        _check_choice("model.dtype", self.dtype, ("float32", "float16", "bfloat16"))
        if self.source == "local":
            _check(bool(self.path), 'model.path is required when model.source = "local"')
        if self.id:
            _check(
                bool(ID_PATTERN.match(self.id)), f"model.id {self.id!r} may use only letters, digits, _ . -"
            )

    @property
    def display_name(self) -> str:
        """``name``, else the local directory's name, else the source (``synthetic``)."""
        return self.name or (Path(self.path).name if self.path else self.source)

    @property
    def model_id(self) -> str:
        return self.id or re.sub(r"[^A-Za-z0-9_.\-]", "_", self.display_name)


@dataclass(frozen=True)
class SyntheticConfig:
    """``sae_lens.synthetic`` activation source: ground truth known by construction."""

    num_features: int = 256
    """True features of the synthetic model."""
    hidden_dim: int = 64
    """Width of the synthetic hidden activations (the SAE's d_in)."""
    firing_probability: float = 0.02
    """Base firing probability of each true feature per token."""
    hierarchy_branching: int = 4
    """Children per parent in the planted hierarchy (0: no hierarchy)."""
    hierarchy_depth: int = 2
    """Depth of the planted hierarchy trees."""
    hierarchy_roots: int = 4
    """Number of planted hierarchy trees (0: no hierarchy)."""
    n_correlated_pairs: int = 32
    """Feature pairs with a planted firing correlation."""
    correlation: float = 0.6
    """Firing correlation planted on those pairs."""
    sequence_length: int = 128
    """Tokens per synthetic sequence (sequences structure the nulls and subsamples)."""
    magnitude_std: float = 0.2
    """Standard deviation of a firing feature's magnitude around its mean 1.0."""

    def __post_init__(self) -> None:
        _check(self.num_features > 1, "synthetic.num_features must be > 1")
        _check(self.hidden_dim > 1, "synthetic.hidden_dim must be > 1")
        _check_prob("synthetic.firing_probability", self.firing_probability)
        _check(
            self.hierarchy_branching >= 0 and self.hierarchy_depth >= 0,
            "synthetic hierarchy sizes must be >= 0",
        )
        _check(
            self.hierarchy_branching != 1 and self.hierarchy_roots >= 0,
            "synthetic.hierarchy_branching must be 0 (no hierarchy) or >= 2, hierarchy_roots >= 0",
        )
        _check(self.magnitude_std >= 0, "synthetic.magnitude_std must be >= 0")
        _check(self.n_correlated_pairs >= 0, "synthetic.n_correlated_pairs must be >= 0")
        _check(-1.0 < self.correlation < 1.0, "synthetic.correlation must lie in (-1, 1)")
        _check(self.sequence_length > 1, "synthetic.sequence_length must be > 1")


@dataclass(frozen=True)
class SAEConfig:
    id: str
    """saeId in the graph (letters, digits, _ . -); feature ids are ``{id}:{index}``."""
    source: Literal["pretrained", "local", "neelnanda", "synthetic"] = "pretrained"
    """``pretrained``: ``SAE.from_pretrained(release, sae_id)``; ``local``: ``SAE.load_from_disk(path)``;
    ``neelnanda``: the original NeelNanda/sparse_autoencoder weights+cfg (runs 25, 47) via a
    converter; ``synthetic``: an SAE trained (or initialised at the truth) on the synthetic model."""
    release: str = ""
    """SAELens release (``pretrained``) or HF repo (``neelnanda``, default NeelNanda/sparse_autoencoder)."""
    sae_id: str = ""
    """SAELens SAE id within the release, or the run number for ``neelnanda`` (e.g. ``25``)."""
    path: str = ""
    """Local directory for ``local`` (or a local copy of the ``neelnanda`` files)."""
    hook: str = ""
    """Hook name override; by default the SAE's own ``metadata.hook_name``."""
    seed: int = -1
    """Training seed if known (stored on the :SAE node; -1 unknown)."""
    synthetic_mode: Literal["truth", "train"] = "train"
    """For ``synthetic``: ``truth`` builds the SAE from the true directions; ``train`` trains one."""
    train_tokens: int = 200_000
    """For ``synthetic`` with ``train``: tokens of training."""
    width: int = 0
    """For ``synthetic``: latent count (0: the synthetic model's num_features)."""

    def __post_init__(self) -> None:
        _check(
            bool(ID_PATTERN.match(self.id)),
            f"saes.id {self.id!r} may use only letters, digits, _ . - (no ':')",
        )
        _check_choice(
            f"saes[{self.id}].source", self.source, ("pretrained", "local", "neelnanda", "synthetic")
        )
        if self.source == "pretrained":
            _check(
                bool(self.release and self.sae_id), f"saes[{self.id}]: pretrained needs release and sae_id"
            )
        if self.source == "local":
            _check(bool(self.path), f'saes[{self.id}]: source = "local" needs path')
        if self.source == "neelnanda":
            _check(
                bool(self.sae_id or self.path),
                f"saes[{self.id}]: neelnanda needs sae_id (run, e.g. '25') or path",
            )
        _check_choice(f"saes[{self.id}].synthetic_mode", self.synthetic_mode, ("truth", "train"))
        _check(self.train_tokens > 0 and self.width >= 0, f"saes[{self.id}]: train_tokens > 0 and width >= 0")


@dataclass(frozen=True)
class DatasetConfig:
    source: Literal["hf", "text", "tokens", "synthetic"] = "hf"
    """``hf``: a Hugging Face dataset; ``text``: local text files/globs; ``tokens``: a pre-tokenized
    ``.npy``/``.npz`` array [sequences, context]; ``synthetic``: sequences from the synthetic model."""
    name: str = ""
    """HF dataset name (required for ``hf``, e.g. ``NeelNanda/c4-code-20k``); for other sources an
    optional label for the :Dataset node (default: the source and file names)."""
    split: str = "train"
    """HF split."""
    column: str = "text"
    """Text column of the HF dataset (or ``tokens`` for pre-tokenized ones)."""
    paths: tuple[str, ...] = ()
    """Files or glob patterns for ``text`` and ``tokens``."""
    n_tokens: int = 1_000_000
    """Tokens to process (before excluding BOS/padding)."""
    context_size: int = 128
    """Tokens per sequence; longer texts are cut into several sequences."""
    prepend_bos: bool = True
    """Prepend the tokenizer's BOS token to each sequence."""
    streaming: bool = True
    """Stream the HF dataset instead of downloading it whole."""

    def __post_init__(self) -> None:
        _check_choice("dataset.source", self.source, ("hf", "text", "tokens", "synthetic"))
        if self.source in ("text", "tokens"):
            _check(len(self.paths) > 0, f'dataset.paths is required when dataset.source = "{self.source}"')
        _check(self.n_tokens > 0, "dataset.n_tokens must be > 0")
        _check(self.context_size > 1, "dataset.context_size must be > 1")


@dataclass(frozen=True)
class ActivationsConfig:
    chunk_tokens: int = 65_536
    """Tokens per on-disk chunk (rounded to whole sequences); bounds memory and resume granularity."""
    batch_size: int = 32
    """Sequences per batch read from the source. Chunks end on these batches' boundaries, so
    the stored chunks never depend on the device or ``forward_batch_size``."""
    forward_batch_size: int | Literal["auto"] = "auto"
    """Sequences per model forward + SAE encode. ``auto``: ``batch_size`` on a CPU or MPS; on a
    CUDA GPU as many whole source batches as the free GPU memory holds (estimated from the SAE
    widths, capped at 4096 sequences and 2**19 tokens). An int asks for that many. On a CUDA
    out-of-memory error the size is halved and the same sequences are encoded again (no token
    lost or repeated); the size used is logged and written to the manifest stats."""
    exclude_bos: bool = True
    """Drop BOS positions (they carry huge, uninformative activations)."""
    exclude_padding: bool = True
    """Drop padding positions."""
    threshold: float = 0.0
    """A latent fires when its activation exceeds this."""
    sae_dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    """dtype the SAEs encode in (a copy converted with SAELens' ``SAE.to(dtype=...)``; the
    decoder written to the bundle stays float32). ``bfloat16`` halves the encoder's memory and
    runs on a GPU's tensor cores, but moves latents near the threshold across it: opt-in."""
    shard_sequences: int = 0
    """Sequences per shard of a sharded pass (rounded up to a multiple of ``batch_size``): each
    shard runs as one executor task (``--executor ray``: one Ray task, a GPU each where the
    cluster has them) and the parent appends the shards' chunks in order; the activations equal
    the single-process pass's (``saegraph.ingest.activation_shards``). 0: one process. Not part
    of the config fingerprint: it does not change the result."""

    def __post_init__(self) -> None:
        _check(self.chunk_tokens > 0, "activations.chunk_tokens must be > 0")
        _check(self.shard_sequences >= 0, "activations.shard_sequences must be >= 0 (0: no sharding)")
        _check(self.batch_size > 0, "activations.batch_size must be > 0")
        _check(
            self.forward_batch_size == "auto"
            or (isinstance(self.forward_batch_size, int) and self.forward_batch_size > 0),
            'activations.forward_batch_size must be "auto" or an integer > 0',
        )
        _check_choice("activations.sae_dtype", self.sae_dtype, ("float32", "float16", "bfloat16"))
        _check(self.threshold >= 0, "activations.threshold must be >= 0")


@dataclass(frozen=True)
class FeaturesConfig:
    top_examples: int = 8
    """Top activating examples kept per feature."""
    context_window: int = 8
    """Tokens of context on each side of a top example."""
    top_tokens: int = 10
    """Top tokens per feature (by mean activation on that token, min 2 firings)."""
    top_logits: int = 10
    """Top promoted logits per feature (decoder direction through W_U)."""

    def __post_init__(self) -> None:
        for f in ("top_examples", "context_window", "top_tokens", "top_logits"):
            _check(getattr(self, f) >= 0, f"features.{f} must be >= 0")


@dataclass(frozen=True)
class Config:
    saes: tuple[SAEConfig, ...]
    """One or more SAEs; all are encoded in one pass of the model."""
    run: RunConfig = field(default_factory=RunConfig)
    """Run-wide settings."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The language model (or the synthetic source)."""
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    """Tokens to run over."""
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    """Synthetic source settings (used when model.source = "synthetic")."""
    activations: ActivationsConfig = field(default_factory=ActivationsConfig)
    """Streaming and chunking of sparse activations."""
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    """Per-feature metadata."""
    edges: EdgesConfig = field(default_factory=EdgesConfig)
    """Edge builders."""
    declared_sae_families: tuple[SAEFamilyConfig, ...] = ()
    """The ``[[sae_families]]`` tables ``saes`` was expanded from: a record for the manifest,
    never expanded again (``saes`` already holds their members)."""

    def __post_init__(self) -> None:
        _check(len(self.saes) > 0, "the config needs at least one [[saes]] table")
        ids = [s.id for s in self.saes]
        _check(len(set(ids)) == len(ids), f"saes ids must be unique, got {ids}")
        if self.dataset.source == "hf":
            _check(
                bool(self.dataset.name),
                'dataset.name is required when dataset.source = "hf" (e.g. "NeelNanda/c4-code-20k")',
            )
        synthetic_model = self.model.source == "synthetic"
        for s in self.saes:
            _check(
                (s.source == "synthetic") == synthetic_model,
                f'saes[{s.id}].source = "{s.source}" does not fit model.source = "{self.model.source}": '
                'synthetic SAEs go with model.source = "synthetic" and only there',
            )
        if synthetic_model:
            _check(
                self.dataset.source == "synthetic",
                'model.source = "synthetic" needs dataset.source = "synthetic"',
            )
        else:
            _check(
                self.dataset.source != "synthetic",
                'dataset.source = "synthetic" needs model.source = "synthetic"',
            )
        if self.model.source in ("transformer_lens", "bridge"):
            _check(
                bool(self.model.name or self.model.path),
                f'model.name is required when model.source = "{self.model.source}" (e.g. "gelu-1l")',
            )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not out[RECORD_KEY]:
            del out[RECORD_KEY]  # configs without families resolve as they did before families
        return out

    def fingerprint(self) -> str:
        """sha256 of the resolved config (run identity, resume check); the family record and
        ``activations.shard_sequences`` are left out: the expanded ``saes`` say what runs, and
        sharding does not change it."""
        resolved = {k: v for k, v in self.to_dict().items() if k != RECORD_KEY}
        resolved["activations"].pop("shard_sequences")  # how the pass runs, not what it computes
        return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML run config."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist: pass a TOML file (see examples/*.toml)")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from exc
    return config_from_mapping(data)


def config_from_mapping(data: dict[str, Any]) -> Config:
    """Build a Config from a parsed TOML mapping (``[[saes]]`` is a list of tables); each
    ``[[sae_families]]`` table is expanded into ``[[saes]]`` tables first."""
    data = expand_families(data)
    if "saes" not in data:
        raise ConfigError("the config needs at least one [[saes]] or [[sae_families]] table")
    return from_dict(Config, data)
