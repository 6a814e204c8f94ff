"""Markdown of the planted-truth benchmark's SAE-trained sections (``bench_planted.main`` writes them).

1. ``markdown_table``: rows of dicts as a pipe table, floats to 3 decimals, None as "–".
2. ``sae_section``: the trained SAEs' quality table under ``SAE_HEAD``.
3. ``fidelity_section``: the fidelity breakdown and the EXCLUDES geometry
   (``planted_fidelity.py``) under ``FIDELITY_HEAD``.
"""

from __future__ import annotations

from tests.benchmarks.planted_fidelity import DENSITY_CUTS, SCORED, THRESHOLDS
from tests.benchmarks.planted_sae import MATCH_COSINE, TRAIN_LR


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


SAE_COLUMNS = [
    ("features", "F"),
    ("seed", "seed"),
    ("trainTokens", "training tokens"),
    ("k", "TopK k"),
    ("fvu", "FVU"),
    ("l0", "L0"),
    ("deadFraction", "dead"),
    ("matched", f"matched latents (cos >= {MATCH_COSINE})"),
    ("recovered", "true features recovered"),
    ("medianCosine", "median Hungarian cosine"),
    ("structuralMatched", "planted parent–child pairs, both matched"),
    ("exclusiveMatched", "planted exclusive pairs, both matched"),
    ("trainSeconds", "training s"),
]

FIDELITY_COLUMNS = [
    ("features", "F"),
    ("seed", "seed"),
    ("score", "fidelity score"),
    ("threshold", "both latents"),
    ("latents", "latents above"),
    ("method", "method"),
    ("edges", "edges"),
    ("precision", "struct. precision"),
    ("recall", "struct. recall"),
    ("falseCount", "strictly false (count)"),
    ("strictlyFalse", "strictly false"),
    ("falseCi", "95 % interval"),
    ("claimedQ", "claimed q"),
]

GEOMETRY_COLUMNS = [
    ("features", "F"),
    ("seed", "seed"),
    ("densityCut", "both densities"),
    ("falseEdges", "strictly false EXCLUDES edges"),
    ("geoFalse", "geometric share: strictly false edges"),
    ("family", "tested pairs (family)"),
    ("geoFamily", "geometric share: tested pairs"),
    ("geoFamilyMatched", "geometric share: tested pairs, both matched"),
    ("encNegFalse", "encoder cos < 0: strictly false edges"),
    ("encNegFamily", "encoder cos < 0: tested pairs"),
    ("orLatent", "median odds ratio, latents"),
    ("orTrue", "median odds ratio, their true features"),
]


def sae_table(infos: list[dict]) -> str:
    return markdown_table(infos, SAE_COLUMNS)


def sae_section(infos: list[dict], feats: str, train: int) -> str:
    return (
        SAE_HEAD.format(feats=feats, train=train, cos=MATCH_COSINE, lr=TRAIN_LR) + sae_table(infos) + "\n\n"
    )


def fidelity_section(infos: list[dict]) -> str:
    fid = [r for info in infos for r in info.get("fidelity", [])]
    geo = [r for info in infos for r in info.get("geometry", [])]
    if not fid and not geo:
        return ""
    scores = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in THRESHOLDS.items())
    text = FIDELITY_HEAD.format(methods=", ".join(SCORED), scores=scores)
    text += markdown_table(fid, FIDELITY_COLUMNS) + "\n\n"
    if geo:
        text += GEOMETRY_HEAD + markdown_table(geo, GEOMETRY_COLUMNS) + "\n\n"
    return text


SAE_HEAD = """## SAE-trained activations

Rows "SAE-trained (m matched)" above (features {feats}): a TopK SAE (AuxK loss, decoder
initialised at data directions) trained with SAELens' `SAETrainer` through the demo's
`saegraph.demo.train_saes.train_sae` on the hidden activations (`feature_dict` of the true
activations) of the benchmark's own tokens: width = number of true features, k = the true
mean L0 rounded, {train} training samples (batch 256, lr {lr}, seeded by the case's seed, torch
on one thread); its inference form encodes the same tokens (`tests/benchmarks/planted_sae.py`).
Latents are matched one-to-one to true features by the Hungarian assignment on
decoder/true-direction cosine; matches with cosine >= {cos} are kept.
Each edge between two matched latents is scored as the pair of their true features;
"edges off matched latents" counts edges touching an unmatched latent (not scored).
Structural recall and exclusive recall are over planted pairs whose two features are both
matched; "testable" uses the latents' firing counts. FVU and L0 are measured on the
benchmark's tokens. "EXCLUDES default" on these rows runs with the encoder-competition null
on the trained SAE's encoder (`planted_sae.encoder_geometry`, what `saegraph ingest` stores in
a bundle's `encoders/`; docs/methods.md); "EXCLUDES without the encoder null" is the same test
without it, as on a bundle without encoders.

The SAE trains for `bench_planted.SAE_EPOCHS` seeded passes over the tokens. Trained for one
pass instead (200k samples; measured with this benchmark on 2026-11-30, seeds 0 / 1) it reached
FVU 0.441 / 0.444 with 662 / 642 matched latents, and the edges' false shares followed its
fidelity: CO_ACTIVATES strictly false 0.018 / 0.020, LASSO (q <= 0.05) 0.250 / 0.361 at
precision 0.440 / 0.486, EXCLUDES 0 edges (without the encoder null 5,130 / 4,726 between
matched latents, 86 % strictly false).

"""

FIDELITY_HEAD = """### SAE-trained edges by fidelity of the latents' mapping

`tests/benchmarks/planted_fidelity.py`. Every latent is mapped to the true feature the
Hungarian assignment gives it (no cosine cut), with two fidelity scores: the decoder/true-direction
cosine, and the Pearson correlation over the benchmark's tokens of the latent's activation with
its feature's true activation. Rows ({methods}): the edges whose two latents both score at
least the threshold ({scores}), scored as pairs of their features; "latents above" counts the
latents at or above it; structural recall is over planted parent–child pairs whose two latents
both pass. "95 % interval" is the Clopper–Pearson interval of the strictly false share (its
count over the edges). The latents' own firing is i.i.d. over tokens here, so a kept edge is a
real dependence between the two latents unless it is one of the test's q-share of false
discoveries; a strictly false edge says the dependence does not exist between the mapped true
features.

"""

GEOMETRY_HEAD = """EXCLUDES geometry (edges between matched latents, cosine >= 0.7): "geometric" = the two
latents' encoder rows have cosine < 0 and both latents fire in more than the given share of
tokens (cuts {cuts}); shares among the strictly false EXCLUDES edges, among every tested pair
(the exclusion family, from the latents' firing counts), and among tested pairs of two matched
latents. Odds ratios: co-firing odds ratio (counts + 0.5) of the strictly false edges'
latents, and of their true features on the same tokens.

""".replace("{cuts}", " and ".join(map(str, DENSITY_CUTS)))
