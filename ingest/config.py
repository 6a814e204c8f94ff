"""Run configuration: a TOML file mapped onto frozen dataclasses.

1. ``load_config(path)`` parses TOML with ``tomllib``.
2. ``from_dict`` builds each section's dataclass, refusing unknown keys and values of the
   wrong type with one line that names the key and the fix.
3. Each dataclass checks its own values in ``__post_init__`` (the only place validation
   lives), so a config built in Python is checked the same way as one read from TOML.
4. ``to_dict`` gives the resolved config (defaults filled in) for the bundle manifest.

Defaults follow ../shared/METHODS.md; every one of them is a field here.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ConfigError(ValueError):
    """The run config is invalid; the message names the key and the fix."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"{name} = {value!r} is not one of {', '.join(map(repr, choices))}")


def _check_prob(name: str, value: float) -> None:
    _check(0.0 < value < 1.0, f"{name} = {value} must lie strictly between 0 and 1")


@dataclass(frozen=True)
class RunConfig:
    name: str = "saegraph-run"
    """Human-readable run name, stored on the :Run node."""
    seed: int = 0
    """Seed for every random choice of the run (subsamples, nulls, synthetic data)."""
    device: str = "cpu"
    """Torch device for the model/SAE forward pass (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""

    def __post_init__(self) -> None:
        _check(bool(self.name.strip()), "run.name must not be empty")


@dataclass(frozen=True)
class ModelConfig:
    source: Literal["transformer_lens", "local", "bridge", "synthetic"] = "transformer_lens"
    """Where the model comes from: a TransformerLens name (``HookedTransformer.from_pretrained``),
    a local directory saved by saegraph/TransformerLens, a Hugging Face architecture run
    through ``TransformerBridge``, or ``sae_lens.synthetic`` (no language model)."""
    name: str = "gelu-1l"
    """Model name (TransformerLens or Hugging Face id); also the modelId unless ``id`` is set."""
    path: str = ""
    """Local directory for ``source = "local"`` (or a local HF snapshot for ``bridge``)."""
    id: str = ""
    """Stable model id in the graph; defaults to ``name`` with unsafe characters replaced."""
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    """Weights dtype for the forward pass; SAE encoding always runs in float32."""

    def __post_init__(self) -> None:
        _check_choice("model.source", self.source, ("transformer_lens", "local", "bridge", "synthetic"))
        _check_choice("model.dtype", self.dtype, ("float32", "float16", "bfloat16"))
        if self.source == "local":
            _check(bool(self.path), 'model.path is required when model.source = "local"')
        if self.id:
            _check(bool(ID_PATTERN.match(self.id)), f"model.id {self.id!r} may use only letters, digits, _ . -")

    @property
    def model_id(self) -> str:
        return self.id or re.sub(r"[^A-Za-z0-9_.\-]", "_", self.name)


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
        _check(self.hierarchy_branching >= 0 and self.hierarchy_depth >= 0, "synthetic hierarchy sizes must be >= 0")
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
        _check(bool(ID_PATTERN.match(self.id)), f"saes.id {self.id!r} may use only letters, digits, _ . - (no ':')")
        _check_choice(f"saes[{self.id}].source", self.source, ("pretrained", "local", "neelnanda", "synthetic"))
        if self.source == "pretrained":
            _check(bool(self.release and self.sae_id), f"saes[{self.id}]: pretrained needs release and sae_id")
        if self.source == "local":
            _check(bool(self.path), f'saes[{self.id}]: source = "local" needs path')
        if self.source == "neelnanda":
            _check(bool(self.sae_id or self.path), f"saes[{self.id}]: neelnanda needs sae_id (run, e.g. '25') or path")
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
    """Sequences per model forward pass."""
    exclude_bos: bool = True
    """Drop BOS positions (they carry huge, uninformative activations)."""
    exclude_padding: bool = True
    """Drop padding positions."""
    threshold: float = 0.0
    """A latent fires when its activation exceeds this."""

    def __post_init__(self) -> None:
        _check(self.chunk_tokens > 0, "activations.chunk_tokens must be > 0")
        _check(self.batch_size > 0, "activations.batch_size must be > 0")
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
class CoactivationConfig:
    enabled: bool = True
    """Build CO_ACTIVATES edges."""
    min_count: int = 5
    """Minimum co-firing tokens c_ij for an edge."""
    fdr_q: float = 0.01
    """Benjamini-Hochberg level over all F(F-1)/2 pairs."""
    min_npmi: float = 0.1
    """Effect-size floor on NPMI."""
    top_k: int = 32
    """Edges kept per node (by NPMI) after the tests."""
    null_shift: bool = True
    """Also run the within-sequence circular-shift null and record how many edges it passes."""
    block_rows: int = 4096
    """Feature rows per block when counting co-firings (bounds memory)."""
    block_memory_mb: int = 512
    """Cap on the int32 count buffer (block_rows x F x 4 bytes); fewer rows per block at large F."""
    top_k_mode: Literal["either", "both"] = "either"
    """Keep an edge when it is in the top_k of either endpoint (kNN union) or of both (mutual)."""

    def __post_init__(self) -> None:
        _check(self.min_count >= 1, "edges.coactivation.min_count must be >= 1")
        _check(self.block_memory_mb >= 1, "edges.coactivation.block_memory_mb must be >= 1")
        _check_choice("edges.coactivation.top_k_mode", self.top_k_mode, ("either", "both"))
        _check_prob("edges.coactivation.fdr_q", self.fdr_q)
        _check(-1.0 <= self.min_npmi <= 1.0, "edges.coactivation.min_npmi must lie in [-1, 1]")
        _check(self.top_k >= 1 and self.block_rows >= 1, "edges.coactivation.top_k and block_rows must be >= 1")


@dataclass(frozen=True)
class LassoConfig:
    enabled: bool = True
    """Build LASSO edges (nodewise LASSO with resampling and matched nulls)."""
    replicates: int = 30
    """Resampling replicates R (each with a matched null)."""
    subsample_fraction: float = 0.5
    """Fraction of sequences per replicate."""
    null: Literal["circular_shift", "permutation"] = "circular_shift"
    """Matched null: circular shift of each feature within sequences, or a plain permutation."""
    min_firings: int = 25
    """Features firing fewer times in a replicate are dropped from it."""
    screen_q: float = 0.05
    """BH level of the Fisher-z correlation screen."""
    min_count: int = 5
    """Minimum co-firings for a candidate."""
    candidates: int = 50
    """Top-k candidates per node after the screen."""
    n_lambdas: int = 25
    """Length of the lambda path."""
    lambda_min_ratio: float = 0.01
    """Smallest lambda as a fraction of lambda_max."""
    ebic_gamma: float = 0.5
    """EBIC gamma."""
    ebic_refit: bool = True
    """Score each lambda by the least-squares refit on its support (relaxed LASSO) rather than the shrunken fit."""
    n_eff: Literal["sequences", "deflated"] = "sequences"
    """Effective sample size for EBIC: sequences, or tokens deflated by autocorrelation."""
    dense_density: float = 0.2
    """Features denser than this enter every regression as covariates (BOS/position-like)."""
    fdr_q: float = 0.05
    """BH level on replicate counts vs the null."""
    stability_threshold: float = 0.8
    """Stability-selection threshold (fraction of replicates)."""
    frequency_strata: int = 2
    """Quantile bins of firing frequency; a pair's null reference is its (bin, bin) stratum. The
    smallest attainable p is 1/(1 + pairs in the stratum), so BH over all pairs needs about
    (pairs / smallest stratum) / fdr_q discoveries before it can reject: keep this small."""
    keep: Literal["significant", "all"] = "significant"
    """Rows written: edges with qValue <= fdr_q, or every edge selected in >= 1 real replicate."""
    block_entries: int = 16_777_216
    """Cells of the dense row block used to accumulate S and co-firings (bounds memory: 12 B/cell)."""

    def __post_init__(self) -> None:
        _check(self.replicates >= 1, "edges.lasso.replicates must be >= 1")
        _check(self.frequency_strata >= 1, "edges.lasso.frequency_strata must be >= 1")
        _check_choice("edges.lasso.keep", self.keep, ("significant", "all"))
        _check(self.block_entries >= 1024, "edges.lasso.block_entries must be >= 1024")
        _check(self.min_firings >= 2 and self.min_count >= 1, "edges.lasso.min_firings >= 2 and min_count >= 1")
        _check(0.0 < self.dense_density <= 1.0, "edges.lasso.dense_density must lie in (0, 1]")
        _check(0.0 < self.stability_threshold <= 1.0, "edges.lasso.stability_threshold must lie in (0, 1]")
        _check_prob("edges.lasso.subsample_fraction", self.subsample_fraction)
        _check_choice("edges.lasso.null", self.null, ("circular_shift", "permutation"))
        _check_choice("edges.lasso.n_eff", self.n_eff, ("sequences", "deflated"))
        _check_prob("edges.lasso.screen_q", self.screen_q)
        _check_prob("edges.lasso.fdr_q", self.fdr_q)
        _check_prob("edges.lasso.lambda_min_ratio", self.lambda_min_ratio)
        _check(self.n_lambdas >= 2 and self.candidates >= 1, "edges.lasso.n_lambdas >= 2 and candidates >= 1")
        _check(self.ebic_gamma >= 0, "edges.lasso.ebic_gamma must be >= 0")


@dataclass(frozen=True)
class CosineConfig:
    enabled: bool = True
    """Build COSINE edges (exact decoder-cosine kNN within each SAE)."""
    top_k: int = 16
    """Neighbours per feature."""
    min_similarity: float = 0.3
    """Similarity floor."""
    block_rows: int = 4096
    """Rows per blocked matmul."""

    def __post_init__(self) -> None:
        _check(self.top_k >= 1 and self.block_rows >= 1, "edges.cosine.top_k and block_rows must be >= 1")
        _check(-1.0 <= self.min_similarity <= 1.0, "edges.cosine.min_similarity must lie in [-1, 1]")


@dataclass(frozen=True)
class MatchesConfig:
    enabled: bool = True
    """Build MATCHES edges between every pair of SAEs with the same d_in."""
    knn: int = 32
    """Neighbours per feature in the cross-SAE kNN graph used for sparse matching."""
    threshold: float = 0.7
    """Cosine tau: a feature is 'shared' when its one-to-one match has cosine >= tau."""
    shared_thresholds: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    """Thresholds at which the shared-feature fraction is reported."""
    dense_max: int = 4096
    """Use dense Hungarian only when both SAEs have at most this many latents."""
    activation_correlation: bool = True
    """Compute max activation correlation when both SAEs saw the same tokens."""
    parent_min_cosine: float = 0.5
    """Splitting: child when cosine to its parent >= this..."""
    parent_min_cooccurrence: float = 0.8
    """...and P(parent fires | child fires) >= this."""
    match_floor: float = 0.3
    """One-to-one matching: leaving a feature unmatched costs 1 - match_floor, so no match has
    a lower cosine; the same floor applies to the mutual-nearest rows written to the table."""
    rotation_null_rows: int = 2048
    """Rows of SAE A (a seeded sample) compared with a randomly rotated B for the MCS rotation null."""
    block_rows: int = 2048
    """Rows per blocked matmul / activation-correlation block."""

    def __post_init__(self) -> None:
        _check(self.knn >= 1, "edges.matches.knn must be >= 1")
        _check(-1.0 <= self.match_floor <= 1.0, "edges.matches.match_floor must lie in [-1, 1]")
        _check(self.rotation_null_rows >= 0, "edges.matches.rotation_null_rows must be >= 0")
        _check(self.block_rows >= 1, "edges.matches.block_rows must be >= 1")
        _check(0.0 <= self.parent_min_cooccurrence <= 1.0, "edges.matches.parent_min_cooccurrence must lie in [0, 1]")
        _check(-1.0 <= self.threshold <= 1.0, "edges.matches.threshold must lie in [-1, 1]")
        _check(self.dense_max >= 0, "edges.matches.dense_max must be >= 0")


@dataclass(frozen=True)
class EdgesConfig:
    coactivation: CoactivationConfig = field(default_factory=CoactivationConfig)
    """Co-activation edges (METHODS.md §1)."""
    lasso: LassoConfig = field(default_factory=LassoConfig)
    """Conditional-dependence edges (METHODS.md §2)."""
    cosine: CosineConfig = field(default_factory=CosineConfig)
    """Decoder-cosine kNN edges (METHODS.md §3)."""
    matches: MatchesConfig = field(default_factory=MatchesConfig)
    """Cross-SAE matches (METHODS.md §4)."""


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

    def __post_init__(self) -> None:
        _check(len(self.saes) > 0, "the config needs at least one [[saes]] table")
        ids = [s.id for s in self.saes]
        _check(len(set(ids)) == len(ids), f"saes ids must be unique, got {ids}")
        if self.dataset.source == "hf":
            _check(bool(self.dataset.name), 'dataset.name is required when dataset.source = "hf" (e.g. "NeelNanda/c4-code-20k")')
        synthetic_model = self.model.source == "synthetic"
        for s in self.saes:
            _check(
                (s.source == "synthetic") == synthetic_model,
                f'saes[{s.id}].source = "{s.source}" does not fit model.source = "{self.model.source}": '
                'synthetic SAEs go with model.source = "synthetic" and only there',
            )
        if synthetic_model:
            _check(self.dataset.source == "synthetic", 'model.source = "synthetic" needs dataset.source = "synthetic"')
        else:
            _check(self.dataset.source != "synthetic", 'dataset.source = "synthetic" needs model.source = "synthetic"')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """sha256 of the resolved config (run identity, resume check)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- parsing
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if is_dataclass(tp):
        _check(isinstance(value, dict), f"{where} must be a table, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is Literal:
        _check(value in get_args(tp), f"{where} = {value!r} is not one of {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin is tuple:
        _check(isinstance(value, list | tuple), f"{where} must be a list, got {type(value).__name__}")
        (inner, *_rest) = get_args(tp)
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} has the wrong type {type(value).__name__}")
    if tp is float:
        _check(isinstance(value, int | float) and not isinstance(value, bool), f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), f"{where} must be an integer, got {value!r}")
        return value
    if tp is bool:
        _check(isinstance(value, bool), f"{where} must be true or false, got {value!r}")
        return value
    if tp is str:
        _check(isinstance(value, str), f"{where} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from a nested dict, with one-line errors naming the key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    _check(not unknown, f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    kwargs = {}
    for name, f in known.items():
        key = f"{where}.{name}" if where != "config" else name
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], key)
        else:
            _check(f.default is not MISSING or f.default_factory is not MISSING, f"{key} is required")
    return cls(**kwargs)


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
    """Build a Config from a parsed TOML mapping (``[[saes]]`` is a list of tables)."""
    data = dict(data)
    if "saes" not in data:
        raise ConfigError("the config needs at least one [[saes]] table")
    return from_dict(Config, data)
