"""The demo as a release: an SAE per layer plus a second seed and a second width on one layer.

Algorithm (docs/methods.md, "FLOWS_TO" and "Universality across a family"):
1. Plan (``release_plan``): a seed-0 SAE of ``sae.d_sae`` latents at every layer of
   ``DemoSettings.layers`` (hook ``blocks.{layer}.hook_resid_post``); the focus layer's is
   ``demo-a``, joined there by ``demo-b`` (second seed) and ``demo-narrow`` (second width,
   ``narrow_width`` latents, seed 0). Members are listed in layer order, so the bundle's SAE
   table, the MATCHES pairs and the FLOWS_TO pairs follow the layers.
2. Flow per layer pair (``flow_rows``): the ``flow.layer_summary`` named query on the store
   (edges at cosine >= 0.5, continuing and born fractions, mean P(later fires | earlier fires)).
3. One traced feature (``traced_feature``): along the main chain (the seed-0 full-width SAE
   of each layer) a dynamic programme over the bundle's FLOWS_TO rows finds the first-layer
   feature whose path to the last layer has the largest minimum decoder cosine (ties: larger
   summed cosine); each hop is shown with its top tokens. The store's ``flow.trace_forward``
   from that feature at that minimum cosine must reach every feature of the path (checked and
   reported as ``storeAgrees``).
4. Universality (``universality_rows``): ``family_table`` of the bundle, one row per SAE pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

HOOK_TEMPLATE = "blocks.{layer}.hook_resid_post"


@dataclass(frozen=True)
class ReleaseMember:
    """One SAE of the demo's release."""

    sae_id: str
    layer: int
    width: int
    seed: int

    @property
    def hook(self) -> str:
        return HOOK_TEMPLATE.format(layer=self.layer)


def release_plan(settings) -> list[ReleaseMember]:
    """Step 1: the release's SAEs in layer order (see the module docstring)."""
    a, b = settings.sae_ids
    p = settings.id_prefix
    width = settings.sae.d_sae
    members = []
    for layer in sorted(set(settings.layers) | {settings.focus_layer}):
        if layer != settings.focus_layer:
            members.append(ReleaseMember(f"{p}demo-l{layer}", layer, width, settings.seeds[0]))
            continue
        members.append(ReleaseMember(a, layer, width, settings.seeds[0]))
        members.append(ReleaseMember(b, layer, width, settings.seeds[1]))
        if settings.narrow_width:
            members.append(ReleaseMember(f"{p}demo-narrow", layer, settings.narrow_width, settings.seeds[0]))
    return members


def main_chain(members: list[ReleaseMember], focus_id: str) -> list[str]:
    """The seed-0 full-width SAE of each layer, in layer order (the focus layer's is ``focus_id``)."""
    by_layer: dict[int, str] = {}
    for m in members:
        if m.sae_id == focus_id or m.layer not in by_layer:
            by_layer[m.layer] = m.sae_id
    return [by_layer[layer] for layer in sorted(by_layer)]


def best_chain(flows: pd.DataFrame, chain: list[str]) -> tuple[list[str], list[dict]] | None:
    """Step 3: the path through ``chain``'s SAEs with the largest minimum cosine (pure).

    ``flows``: FLOWS_TO rows with ``source``, ``target``, ``sourceSae``, ``targetSae``, ``cosine``,
    ``pTargetGivenSource``. Returns (feature ids, hop rows) or None when no path spans the chain."""
    if len(chain) < 2 or flows.empty:
        return None
    # best[f] = (min cosine, summed cosine, path) of the best path from the first SAE ending at f
    best: dict[str, tuple[float, float, list[str], list[dict]]] = {}
    for step, (src, dst) in enumerate(zip(chain[:-1], chain[1:])):
        hop = flows[(flows["sourceSae"] == src) & (flows["targetSae"] == dst)]
        nxt: dict[str, tuple[float, float, list[str], list[dict]]] = {}
        for r in hop.itertuples(index=False):
            cos = float(r.cosine)
            if step == 0:
                prev: tuple[float, float, list[str], list[dict]] = (math.inf, 0.0, [str(r.source)], [])
            elif str(r.source) in best:
                prev = best[str(r.source)]
            else:
                continue
            cand = (
                min(prev[0], cos),
                prev[1] + cos,
                [*prev[2], str(r.target)],
                [*prev[3], {"cosine": cos, "pTargetGivenSource": _finite(r.pTargetGivenSource)}],
            )
            have = nxt.get(str(r.target))
            if have is None or (cand[0], cand[1]) > (have[0], have[1]):
                nxt[str(r.target)] = cand
        best = nxt
        if not best:
            return None
    top = max(best.values(), key=lambda v: (v[0], v[1]))
    return top[2], top[3]


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def traced_feature(bundle_source, store, members: list[ReleaseMember], focus_id: str) -> dict | None:
    """Step 3 on a bundle (FLOWS_TO rows, feature tokens) and a store (``flow.trace_forward``)."""
    from saegraph.queries.registry import run

    flows = bundle_source.bundle.frame("flows_to")
    chain = main_chain(members, focus_id)
    found = best_chain(flows, chain)
    if found is None:
        return None
    path, hops = found
    layer = {m.sae_id: m.layer for m in members}
    tokens = {}
    for sid in chain:
        feats = bundle_source.features(sid).set_index("featureId")
        tokens[sid] = feats["topTokens"] if "topTokens" in feats else pd.Series(dtype=object)
    steps = []
    for i, (fid, sid) in enumerate(zip(path, chain)):
        top = tokens[sid].get(fid)
        steps.append(
            {
                "featureId": fid,
                "saeId": sid,
                "layer": layer[sid],
                "topTokens": [str(t) for t in list(top if top is not None else [])[:6]],
                **(
                    {"cosine": hops[i - 1]["cosine"], "pTargetGivenSource": hops[i - 1]["pTargetGivenSource"]}
                    if i
                    else {}
                ),
            }
        )
    min_cos = min(h["cosine"] for h in hops)
    reached = run(
        store,
        "flow.trace_forward",
        featureId=path[0],
        hops=len(path) - 1,
        minCosine=float(np.nextafter(min_cos, -np.inf)),
    )
    agrees = set(path[1:]) <= {str(x) for x in reached["featureId"]}
    return {
        "steps": steps,
        "minCosine": min_cos,
        "storeReached": int(len(reached)),
        "storeAgrees": bool(agrees),
    }


def flow_rows(store) -> list[dict]:
    """Step 2: ``flow.layer_summary`` at its default cosine floor, as JSON-able rows."""
    from saegraph.queries.registry import run

    table = run(store, "flow.layer_summary")
    return [{k: _json(v) for k, v in r.items()} for r in table.to_dict("records")]


def universality_rows(bundle_source, bundle_path) -> list[dict]:
    """Step 4: the family table of every SAE pair with equal d_in, with the max activation
    correlation's sequence-shift null computed from the bundle's activations."""
    from saegraph.ingest.edges.matches.actcorr_null import FamilyActivationCorrelation
    from saegraph.queries.analysis.family import family_table

    table = family_table(bundle_source, activation_correlation=FamilyActivationCorrelation(bundle_path))
    return [{k: _json(v) for k, v in r.items()} for r in table.to_dict("records")]


def _json(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _f(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def format_release(rel: dict) -> list[str]:
    """Plain-text lines of the release part of the summary (steps 1-4)."""
    members = rel.get("members") or []
    lines = [f"\nRelease: {len(members)} SAEs in one store (layer: SAE (latents, seed))"]
    for layer in sorted({m["layer"] for m in members}):
        here = [f"{m['saeId']} ({m['width']}, seed {m['seed']})" for m in members if m["layer"] == layer]
        lines.append(f"  layer {layer}: " + ", ".join(here))
    if rel.get("flow"):
        lines.append(
            "\nFlow between layers (FLOWS_TO at decoder cosine >= 0.5; born = no predecessor at that floor):"
        )
        for r in rel["flow"]:
            lines.append(
                f"  {r['sourceSae']:<12} -> {r['targetSae']:<12} {r['edges']:>5} edges, "
                f"{_pct(r.get('continuingFraction'))} continue, {_pct(r.get('bornFraction'))} born, "
                f"mean cosine {_f(r.get('meanCosine'))}, P(later fires | earlier fires) "
                f"{_f(r.get('meanPTargetGivenSource'))}"
            )
    tr = rel.get("traced")
    if tr:
        agree = (
            "the store's flow.trace_forward reaches every step"
            if tr["storeAgrees"]
            else "NOT confirmed by the store"
        )
        lines.append(
            "\nOne feature traced through the layers (the path of largest minimum cosine, "
            f"{_f(tr['minCosine'])}; {agree}):"
        )
        for st in tr["steps"]:
            hop = (
                f"cos {_f(st.get('cosine'))}, P {_f(st.get('pTargetGivenSource'), '.2f')}"
                if "cosine" in st
                else "start"
            )
            toks = " ".join(repr(t) for t in st["topTokens"])
            lines.append(f"  layer {st['layer']} {st['featureId']:<16} {hop:<20} {toks}")
    uni = rel.get("universality") or []
    if uni:
        lines.append(
            "\nUniversality, one row per SAE pair (MCS = mean max decoder cosine; base = best of M random "
            "directions; shared = one-to-one matches at cosine >= 0.7; act r = mean max activation "
            "correlation, null = same with the tokens misaligned):"
        )
        lines.append(
            f"  {'SAE A':<12} {'SAE B':<12} {'differ':<6} {'MCS A>B':>7} {'B>A':>6} {'base':>6} {'shared':>7} "
            f"{'act r':>6} {'null':>6}"
        )
        for r in uni:
            lines.append(
                f"  {r['saeA']:<12} {r['saeB']:<12} {r['relation']:<6} {_f(r.get('mcsAB')):>7} "
                f"{_f(r.get('mcsBA')):>6} {_f(r.get('baselineAB')):>6} {_pct(r.get('shared@0.7')):>7} "
                f"{_f(r.get('maxActCorrAB')):>6} {_f(r.get('actCorrNullAB')):>6}"
            )
    return lines


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
