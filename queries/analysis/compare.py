"""Compare two SAE graphs from a bundle or a store: the orchestration (docs/methods.md,
MATCHES and Comparing two SAE graphs).

Algorithm:
1. Load G_A and G_B (one within-SAE edge type, all features as nodes).
2. ``structure.compare_structure``: degree/strength JSD (bits) vs G(n, m) and rewire nulls
   with the null-vs-null floor; clustering/assortativity/component z-scores.
3. Node matching from MATCHES (one-to-one; ``matching.node_matching``); Leiden (modularity,
   gamma 1) communities of both graphs; AMI/ARI and edge overlap vs ``n_perm`` permutations.
4. Node-signature retrieval (``signatures.signature_matching``) scored against that matching.
5. Universality tables (``universality.universality_summary``) with decoders when the
   source has them, and the edges stage's own ``stats.matches`` passed through.
"""

from __future__ import annotations

import pandas as pd

from saegraph.queries.analysis.engine import load_graph, matched_labels
from saegraph.queries.analysis.graph import rel_name
from saegraph.queries.analysis.matching import community_agreement, edge_overlap, node_matching
from saegraph.queries.analysis.signatures import signature_matching
from saegraph.queries.analysis.structure import compare_structure
from saegraph.queries.analysis.universality import universality_summary

DEFAULT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def compare(
    source,
    sae_a: str,
    sae_b: str,
    rel_type="CO_ACTIVATES",
    *,
    n_draws: int = 20,
    n_perm: int = 1000,
    seed: int = 0,
    thresholds=DEFAULT_THRESHOLDS,
    progress: bool = True,
) -> dict:
    """Every comparison table for SAE pair (A, B); see the module docstring."""
    if sae_a == sae_b:
        raise ValueError("compare needs two different SAEs")
    rel = rel_name(rel_type)
    fg_a, feats_a = load_graph(source, sae_a, rel)
    fg_b, feats_b = load_graph(source, sae_b, rel)
    out: dict = {
        "info": {
            "saeA": sae_a,
            "saeB": sae_b,
            "relType": rel,
            "weight": fg_a.weight_column,
            "nDraws": n_draws,
            "nPerm": n_perm,
            "seed": seed,
            "jsd": "Jensen-Shannon divergence in bits (log base 2, in [0, 1]); not the JS distance",
        }
    }
    structure = compare_structure(fg_a, fg_b, n_draws=n_draws, seed=seed, progress=progress)
    out.update(graphs=structure["graphs"], jsd=structure["jsd"], scalars=structure["scalars"])
    out["_observed"] = structure["observed"]
    out["_null_examples"] = structure["null_examples"]
    matches = source.matches(sae_a, sae_b)
    out["matches"] = matches
    if matches.empty:
        out["info"]["matching"] = "no MATCHES between these SAEs: agreement and signature matching skipped"
        return out
    matching = node_matching(matches)
    methods = sorted(matches["method"].dropna().unique()) if "method" in matches else []
    out["info"]["matching"] = (
        f"{len(matching)} one-to-one matches (stored MATCHES methods: {', '.join(methods) or 'unknown'})"
    )
    la = matched_labels(source, sae_a, rel, fg_a, seed)
    lb = matched_labels(source, sae_b, rel, fg_b, seed)
    out["_communities"] = {"A": la, "B": lb}
    agreement = community_agreement(la, lb, matching, n_perm=n_perm, seed=seed)
    overlap = edge_overlap(
        source.edges(rel, sae_a), source.edges(rel, sae_b), matching, n_perm=n_perm, seed=seed
    )
    out["agreement"] = pd.concat([agreement, overlap], ignore_index=True)
    out["signatures"] = signature_matching(
        fg_a,
        fg_b,
        matching,
        communities_a=la.loc[fg_a.ids].to_numpy(),
        communities_b=lb.loc[fg_b.ids].to_numpy(),
    )
    dec_a, dec_b = source.decoder(sae_a), source.decoder(sae_b)
    d_in = dec_a.shape[1] if dec_a is not None else source.d_in(sae_a)
    uni = universality_summary(
        matches,
        n_a=len(feats_a),
        n_b=len(feats_b),
        d_in=d_in,
        thresholds=thresholds,
        dec_a=dec_a,
        dec_b=dec_b,
    )
    for key, table in uni.items():
        out[f"universality_{key}"] = table
    out["info"]["matchesStageStats"] = source.stats("matches")
    return out
