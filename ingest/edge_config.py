"""The ``[edges.*]`` sections of the run config (defaults from docs/methods.md).

One frozen dataclass per edge stage; each field carries its docstring and each class checks
its values in ``__post_init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from saegraph.ingest.config_checks import check as _check
from saegraph.ingest.config_checks import check_choice as _check_choice
from saegraph.ingest.config_checks import check_prob as _check_prob


@dataclass(frozen=True)
class CoactivationConfig:
    enabled: bool = True
    """Build CO_ACTIVATES (and EXCLUDES) edges."""
    min_count: int = 5
    """Minimum co-firing tokens c_ij for a CO_ACTIVATES edge."""
    fdr_q: float = 0.01
    """Benjamini-Hochberg level, per tail: over all F(F-1)/2 pairs for CO_ACTIVATES, over the
    testable exclusion family for EXCLUDES."""
    min_phi: float = 0.1
    """Effect-size floor of CO_ACTIVATES, applied before the test: phi of the 2x2 firing table
    >= 0.1, Cohen's "small" association (docs/methods.md: on planted data it keeps structural
    precision 1.0 where the significance-only set has 0.33)."""
    min_npmi: float = 0.0
    """NPMI floor of CO_ACTIVATES after the test (0: any positive association; phi >= min_phi
    already implies it)."""
    exclusion: bool = True
    """Also test the lower tail and write EXCLUDES edges (significantly rare co-firing)."""
    exclusion_odds_ratio: float = 0.6
    """ω0 of the exclusion test: H0 "the co-firing odds ratio is >= ω0" (Fisher noncentral
    hypergeometric), so an EXCLUDES edge claims co-firing at least 1/0.6 ≈ 1.68 times rarer in
    odds than chance, the odds-ratio counterpart of Cohen's small effect (Chen, Cohen & Chen
    2010). 1.0 tests the point null of independence."""
    encoder_null: bool = True
    """Test exclusion beyond the SAE's own encoder competition: where the bundle holds the SAE's
    encoder, omega0 becomes omega0 * pi_ij, pi_ij the share of the two latents' joint occurrences
    in which the encoder would let both fire (``coactivation.encoder_null``; docs/methods.md).
    Without it, EXCLUDES on an SAE's activations also report latents that only compete in the
    encoder: 86 % of them were strictly false on the planted benchmark's trained SAE."""
    null_calibrate: bool = True
    """Lower each tail's BH threshold, where needed, until the within-sequence circular-shift null's
    estimate of the kept set's FDR (null kept / real kept) is <= fdr_q (needs null_shift)."""
    top_k: int = 0
    """Per-node cap on CO_ACTIVATES (by NPMI) after the tests; 0 = off (a cap shapes the degree
    distribution that graph comparisons measure)."""
    null_shift: bool = True
    """Run the within-sequence circular-shift null: its pass rate and estimated FDR per tail go to
    the stats (and set the threshold when null_calibrate)."""
    block_rows: int = 4096
    """Most feature rows per block when counting co-firings; blocks are cache-sized below this
    (``coactivation.stage.effective_block_rows``)."""
    block_memory_mb: int = 512
    """Cap on the int32 count buffer (block_rows x F x 4 bytes); fewer rows per block at large F."""
    top_k_mode: Literal["either", "both"] = "either"
    """With top_k > 0: keep an edge in the top_k of either endpoint (kNN union) or of both (mutual)."""
    token_memory_mb: float = 1024.0
    """Most MiB of one SAE's token x feature activations held at once (8 B per stored value and
    8 B per token, ``stats.stream.csr_bytes``). Above it the SAE's chunks stream from disk in
    blocks of whole sequences within this size, read once per block of feature rows (rows then as
    large as block_rows and block_memory_mb allow, to keep the passes few); the edges and their
    statistics are those of the in-memory path (docs/scaling.md, "Memory per stage")."""
    row_block_tasks: int = 0
    """Split one SAE's co-firing count phase into this many executor tasks, each a contiguous
    range of feature rows against all columns, checkpointed on its own (0: the SAE is one task).
    The selection then runs on all ranges in row order: the same edges and statistics
    (``coactivation.row_blocks``; docs/scaling.md, "Sharded runs on Ray")."""

    def __post_init__(self) -> None:
        _check(self.min_count >= 1, "edges.coactivation.min_count must be >= 1")
        _check(self.row_block_tasks >= 0, "edges.coactivation.row_block_tasks must be >= 0 (0 = off)")
        _check(self.token_memory_mb > 0, "edges.coactivation.token_memory_mb must be > 0")
        _check(self.block_memory_mb >= 1, "edges.coactivation.block_memory_mb must be >= 1")
        _check_choice("edges.coactivation.top_k_mode", self.top_k_mode, ("either", "both"))
        _check_prob("edges.coactivation.fdr_q", self.fdr_q)
        _check(-1.0 <= self.min_npmi <= 1.0, "edges.coactivation.min_npmi must lie in [-1, 1]")
        _check(-1.0 <= self.min_phi <= 1.0, "edges.coactivation.min_phi must lie in [-1, 1]")
        _check(
            0.0 < self.exclusion_odds_ratio <= 1.0,
            "edges.coactivation.exclusion_odds_ratio must lie in (0, 1]",
        )
        _check(self.top_k >= 0, "edges.coactivation.top_k must be >= 0 (0 = no cap)")
        _check(self.block_rows >= 1, "edges.coactivation.block_rows must be >= 1")


@dataclass(frozen=True)
class LassoConfig:
    enabled: bool = True
    """Build LASSO edges (nodewise LASSO with resampling and matched nulls)."""
    replicates: int = 30
    """Resampling replicates R (each with a matched null)."""
    subsample_fraction: float = 0.5
    """Fraction of sequences per replicate."""
    screen: Literal["once", "per_replicate"] = "once"
    """Where the correlation screen runs. ``once``: on all sequences of the real data and of one
    matched-null dataset; each replicate then refits the LASSO on its subsample from per-sequence
    sufficient statistics (cost independent of the token count). ``per_replicate``: every
    subsample is screened again and gets a freshly drawn null (about R times the screen's cost)."""
    max_sequence_pair_entries: int = 100_000_000
    """Memory cap of ``screen = "once"``: the most (sequence, block pair) sums kept (16 B each).
    Above it that SAE falls back to ``per_replicate`` with a warning, stated in its stats."""
    null: Literal["circular_shift", "permutation"] = "circular_shift"
    """Matched null: circular shift of each feature within sequences, or a plain permutation."""
    min_firings: int = 3
    """Features firing fewer times in a replicate are dropped from it. Children of rare parents fire
    rarely, and the matched null calibrates whatever enters: on the planted data (2,048 features,
    200k tokens) structural recall was 0.759 at 10, 0.933 at 5 and 0.941 at 3, precision 0.980-0.984
    and no strictly false edge throughout (docs/methods.md, LASSO)."""
    screen_q: float = 0.05
    """BH level of the Fisher-z correlation screen."""
    min_count: int = 5
    """Minimum co-firings for a positively correlated candidate. Negatively correlated pairs
    (exclusion: they co-fire rarely by definition) need only pass the screen and the effect floor."""
    min_abs_correlation: float = 0.05
    """Effect floor of the screen: a pair is a candidate only when its correlation |r| is at least
    this. With n_eff in the hundreds of thousands the Fisher-z test alone passes real but tiny
    dependencies (a weak background correlation of the latent causes, |r| about 0.02); on the
    planted data every parent-child pair has |r| >= 0.1 and no strictly false pair has |r| >= 0.05."""
    min_abs_coefficient: float = 0.05
    """Effect floor of the fit: standardized coefficients with |beta| below this are set to zero
    before the AND rule, in real and null replicates alike."""
    rule: Literal["and", "or"] = "and"
    """How the two nodewise regressions of a pair combine (Meinshausen & Bühlmann 2006): ``and``
    keeps a pair in a replicate when each endpoint selects the other, ``or`` when either does.
    Real and null replicates use the same rule, so the null still calibrates the counts. On the
    planted data both gave the same edges (the two directions agree), so the stricter rule stays."""
    null_tail: Literal["bound", "empirical"] = "bound"
    """Per-edge p from the null's replicate counts: ``bound`` = truncated-Markov bound
    P(C0 >= c) <= E[min(C0, c)]/c with one pseudo null selection (valid under any dependence
    between replicates; ranks edges by replicate count even when the null selects nothing);
    ``empirical`` = the empirical tail of the stratum's null counts (ties at the floor then)."""
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
    n_eff: Literal["sequences", "deflated"] = "deflated"
    """Effective sample size for the Fisher-z screen and EBIC. ``deflated``: tokens x (1 - rho)/(1 + rho)
    with rho the median within-sequence lag-1 autocorrelation of the features' firing indicators,
    estimated from the data (``lasso.resample.effective_sample_size``); ``sequences``: the number of
    sequences (the most conservative value, far too small when tokens are nearly independent)."""
    dense_density: float = 0.2
    """Features denser than this enter every regression as covariates (BOS/position-like)."""
    fdr_q: float = 0.05
    """Level of the kept set's false-discovery rate (``fdr_control``)."""
    fdr_control: Literal["decoy", "bh"] = "decoy"
    """How the kept set is cut from the edges' null-tail p-values (``null_tail``). ``decoy``: the
    null replicates' edges are ranked by the same p, and the kept set is the longest p-ranked
    prefix whose estimated FDP, (1 + null edges in it) / real edges in it, is at most fdr_q
    (a target-decoy estimate with knockoff+'s +1, not a guarantee; qValue is the smallest such
    estimate over the prefixes holding the edge). It keeps what the null says is there: on the
    demo's layer 5 (10 replicates) BH kept 0 edges while 2,705 were seen in every replicate
    against 82 null edges.
    ``bh``: Benjamini-Hochberg over all eligible pairs (valid whatever the dependence between
    replicates, but conservative when the null selects many edges a few times each)."""
    stability_threshold: float = 0.8
    """Stability-selection threshold (fraction of replicates)."""
    frequency_strata: int = 2
    """Quantile bins of firing frequency; a pair's null reference is its (bin, bin) stratum. The
    smallest attainable p is 1/(1 + pairs in the stratum), so BH over all pairs needs about
    (pairs / smallest stratum) / fdr_q discoveries before it can reject: keep this small."""
    keep: Literal["significant", "all"] = "significant"
    """Rows written: edges with qValue <= fdr_q (the kept set), or every edge selected in >= 1
    real replicate."""
    block_entries: int = 16_777_216
    """Cells of the dense row block used to accumulate S and co-firings (bounds memory: 16 B/cell)."""
    token_memory_mb: float = 1024.0
    """Most MiB of one SAE's token x feature activations held at once (8 B per stored value and
    8 B per token, ``stats.stream.csr_bytes``). Above it the SAE's chunks stream from disk in
    blocks of whole sequences within this size: once for the moments, once per block of the
    screen's triangle (then as large as block_entries allows), once for the per-sequence
    statistics, for the real data and again for its null, and once per replicate and dataset for
    the dense covariates' cross-products when there are any; the edges and their statistics are
    those of the in-memory path (docs/scaling.md, "Memory per stage"). Streaming needs the
    default null ("circular_shift") and screen ("once"), and the store in (sequence, position)
    order (as ingest writes it); otherwise the SAE stops with an error naming the setting."""
    node_block_tasks: int = 0
    """Run each SAE's nodewise fits as executor tasks: every replicate (real and null) not on
    disk is cut into this many contiguous node ranges of about equal solver cost, and all
    (replicate, range) pairs are mapped at once, each checkpointed on its own (0: the fits run
    in the SAE's own task). The screen and each replicate's statistics stay in the SAE's
    process; the edges and statistics are those of 0 (``lasso.node_blocks``; docs/scaling.md,
    "Sharded runs on Ray")."""

    def __post_init__(self) -> None:
        _check(self.replicates >= 1, "edges.lasso.replicates must be >= 1")
        _check(self.node_block_tasks >= 0, "edges.lasso.node_block_tasks must be >= 0 (0 = off)")
        _check(self.token_memory_mb > 0, "edges.lasso.token_memory_mb must be > 0")
        _check(self.frequency_strata >= 1, "edges.lasso.frequency_strata must be >= 1")
        _check_choice("edges.lasso.keep", self.keep, ("significant", "all"))
        _check(self.block_entries >= 1024, "edges.lasso.block_entries must be >= 1024")
        _check(
            self.min_firings >= 2 and self.min_count >= 1, "edges.lasso.min_firings >= 2 and min_count >= 1"
        )
        _check(0.0 < self.dense_density <= 1.0, "edges.lasso.dense_density must lie in (0, 1]")
        _check(0.0 < self.stability_threshold <= 1.0, "edges.lasso.stability_threshold must lie in (0, 1]")
        _check_prob("edges.lasso.subsample_fraction", self.subsample_fraction)
        _check_choice("edges.lasso.null", self.null, ("circular_shift", "permutation"))
        _check_choice("edges.lasso.screen", self.screen, ("once", "per_replicate"))
        _check(self.max_sequence_pair_entries >= 1, "edges.lasso.max_sequence_pair_entries must be >= 1")
        _check_choice("edges.lasso.n_eff", self.n_eff, ("sequences", "deflated"))
        _check_choice("edges.lasso.null_tail", self.null_tail, ("bound", "empirical"))
        _check_choice("edges.lasso.fdr_control", self.fdr_control, ("decoy", "bh"))
        _check_choice("edges.lasso.rule", self.rule, ("and", "or"))
        _check(0.0 <= self.min_abs_correlation < 1.0, "edges.lasso.min_abs_correlation must lie in [0, 1)")
        _check(self.min_abs_coefficient >= 0.0, "edges.lasso.min_abs_coefficient must be >= 0")
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
    token_memory_mb: float = 1024.0
    """Most MiB of the SAE pair's token x feature activations (both SAEs together) held at once
    (``stats.stream.csr_bytes``). Above it both SAEs' chunks stream from disk in blocks of whole
    sequences within this size: once per block of A's features for the max activation
    correlation, once for the pairs' correlations and the splitting counts; the rows are those
    of the in-memory path (docs/scaling.md, "Memory per stage")."""

    def __post_init__(self) -> None:
        _check(self.knn >= 1, "edges.matches.knn must be >= 1")
        _check(self.token_memory_mb > 0, "edges.matches.token_memory_mb must be > 0")
        _check(-1.0 <= self.match_floor <= 1.0, "edges.matches.match_floor must lie in [-1, 1]")
        _check(self.rotation_null_rows >= 0, "edges.matches.rotation_null_rows must be >= 0")
        _check(self.block_rows >= 1, "edges.matches.block_rows must be >= 1")
        _check(
            0.0 <= self.parent_min_cooccurrence <= 1.0,
            "edges.matches.parent_min_cooccurrence must lie in [0, 1]",
        )
        _check(-1.0 <= self.threshold <= 1.0, "edges.matches.threshold must lie in [-1, 1]")
        _check(self.dense_max >= 0, "edges.matches.dense_max must be >= 0")


@dataclass(frozen=True)
class FlowConfig:
    enabled: bool = True
    """Build FLOWS_TO edges from each SAE to the SAEs at the next layer of the same model and d_in
    (a no-op when no two SAEs sit at different layers)."""
    top_k: int = 3
    """Later-layer features kept per earlier feature (its nearest decoder directions)."""
    min_cosine: float = 0.3
    """Decoder-cosine floor, as MATCHES's match_floor: several times the extreme-value baseline
    of the best of M random directions (about 0.17 at d_in 384 and M 1536, stated per pair)."""
    activation_check: bool = True
    """When both SAEs' activations are in the bundle (same tokens): P(later fires | earlier fires)
    and the activation correlation of every kept pair."""
    block_rows: int = 2048
    """Rows per blocked matmul of the decoder kNN."""
    token_memory_mb: float = 1024.0
    """Most MiB of the SAE pair's token x feature activations (both SAEs together) held at once
    for the activation check (``stats.stream.csr_bytes``). Above it both SAEs' chunks stream from
    disk, in one pass of blocks of whole sequences within this size; the rows are those of the
    in-memory path (docs/scaling.md, "Memory per stage")."""

    def __post_init__(self) -> None:
        _check(self.top_k >= 1, "edges.flow.top_k must be >= 1")
        _check(self.token_memory_mb > 0, "edges.flow.token_memory_mb must be > 0")
        _check(-1.0 <= self.min_cosine <= 1.0, "edges.flow.min_cosine must lie in [-1, 1]")
        _check(self.block_rows >= 1, "edges.flow.block_rows must be >= 1")


@dataclass(frozen=True)
class EdgesConfig:
    coactivation: CoactivationConfig = field(default_factory=CoactivationConfig)
    """Co-activation and exclusion edges (docs/methods.md, CO_ACTIVATES and EXCLUDES)."""
    lasso: LassoConfig = field(default_factory=LassoConfig)
    """Conditional-dependence edges (docs/methods.md, LASSO)."""
    cosine: CosineConfig = field(default_factory=CosineConfig)
    """Decoder-cosine kNN edges (docs/methods.md, COSINE)."""
    matches: MatchesConfig = field(default_factory=MatchesConfig)
    """Cross-SAE matches (docs/methods.md, MATCHES)."""
    flow: FlowConfig = field(default_factory=FlowConfig)
    """Cross-layer feature flow (docs/methods.md, FLOWS_TO)."""
