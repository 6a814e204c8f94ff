"""Splitting trees across the widths of a family of SAEs (pure core over a source).

Algorithm (docs/methods.md, "Universality across a family"; Bricken et al. 2023, feature
splitting; the ``parent`` rows are written by the MATCHES stage, ``ingest/edges/matches/splitting.py``):
1. Width pairs: every two SAEs with the same layer and d_in and different widths (the family
   table's relation ``width``), narrower first. Their MATCHES rows of method ``parent`` are
   oriented narrow -> wide: the source is the parent (a feature of the narrower SAE), the
   target its child (each feature of the wider SAE has at most one parent).
2. Trees: per width pair and parent, the children, their number and mean (and max) cosine.
3. Width ladder: per layer the distinct widths in increasing order; the *next* SAEs of an SAE
   are those at the following width of its layer. depth(f) = 0 when f has no children in a
   next SAE, else 1 + the max depth of its children there. A tree row's depth is
   1 + the max depth of its children, so a direct pair (not consecutive widths) counts its own
   step and then follows the ladder from the wider SAE.
4. Chains: every path root -> child -> grandchild ... that follows parent edges width by width
   (consecutive widths only) from a root (a feature with no parent at the previous width),
   kept when it spans three or more widths; one row per path, ending at a feature with no
   children at the next width.
5. Summary per width pair: parents (with >= 1 child), parents with >= 2 children, mean and max
   children per parent, max depth (step 3), children and the number of the wider SAE's
   features that have a parent.
"""

from __future__ import annotations

import pandas as pd

from saegraph.queries.analysis.universality import splitting_table

TREE_COLUMNS = [
    "parentSae",
    "childSae",
    "layer",
    "parentWidth",
    "childWidth",
    "parent",
    "nChildren",
    "meanCosine",
    "maxCosine",
    "depth",
    "children",
]
CHAIN_COLUMNS = ["layer", "root", "nWidths", "path", "saes", "cosines"]
SUMMARY_COLUMNS = [
    "parentSae",
    "childSae",
    "layer",
    "parentWidth",
    "childWidth",
    "consecutive",
    "parents",
    "parentsWithTwoOrMore",
    "meanChildren",
    "maxChildren",
    "children",
    "maxDepth",
]


def width_pairs(saes: pd.DataFrame) -> list[tuple[str, str]]:
    """(narrower saeId, wider saeId) for SAEs of one layer and d_in with different widths (step 1)."""
    rows = saes.reset_index(drop=True)
    out = []
    for x in range(len(rows)):
        for y in range(x + 1, len(rows)):
            a, b = rows.iloc[x], rows.iloc[y]
            same = int(a["layer"]) == int(b["layer"]) and int(a["dIn"]) == int(b["dIn"])
            if same and int(a["dSae"]) != int(b["dSae"]):
                pair = (str(a["saeId"]), str(b["saeId"]))
                out.append(pair if int(a["dSae"]) < int(b["dSae"]) else pair[::-1])
    return out


def _next_saes(saes: pd.DataFrame) -> dict[str, list[str]]:
    """saeId -> the SAEs at the next larger width of its layer and d_in (step 3)."""
    out: dict[str, list[str]] = {}
    for _, group in saes.groupby(["layer", "dIn"]):
        widths = sorted({int(w) for w in group["dSae"]})
        at = {w: group.loc[group["dSae"].astype(int) == w, "saeId"].astype(str).tolist() for w in widths}
        for w, nxt in zip(widths, widths[1:]):
            for sid in at[w]:
                out[sid] = at[nxt]
    return out


def splitting_trees(source) -> dict[str, pd.DataFrame]:
    """{"trees", "chains", "summary"} (module docstring)."""
    saes = source.bundle.frame("saes") if hasattr(source, "bundle") else None
    if saes is None:
        raise ValueError("splitting trees need the SAE table of a bundle (layers and widths)")
    saes = saes.assign(saeId=saes["saeId"].astype(str))
    info = saes.set_index("saeId")
    pairs = width_pairs(saes)
    nxt = _next_saes(saes)
    kids: dict[tuple[str, str], dict[str, list[tuple[str, float]]]] = {}
    tables = {}
    for p, c in pairs:
        m = source.matches(p, c)
        rows = m[m["method"] == "parent"] if len(m) else m
        table, _ = splitting_table(rows, parent_side="source")
        tables[(p, c)] = table
        kids[(p, c)] = {
            str(par): list(zip(sub["target"].astype(str), sub["cosine"].astype(float)))
            for par, sub in rows.groupby("source")
        }
    memo: dict[tuple[str, str], int] = {}

    def depth(sid: str, feature: str) -> int:
        if (sid, feature) not in memo:
            best = 0
            for child_sae in nxt.get(sid, []):
                for child, _ in kids.get((sid, child_sae), {}).get(feature, []):
                    best = max(best, 1 + depth(child_sae, child))
            memo[(sid, feature)] = best
        return memo[(sid, feature)]

    tree_rows, summary = [], []
    for (p, c), table in tables.items():
        consecutive = c in nxt.get(p, [])
        depths = [1 + max(depth(c, ch) for ch in chs) for chs in table["children"]]
        t = table.drop(columns=["nnlsR2"]).assign(
            parentSae=p,
            childSae=c,
            layer=int(info.loc[p, "layer"]),
            parentWidth=int(info.loc[p, "dSae"]),
            childWidth=int(info.loc[c, "dSae"]),
            depth=depths,
        )
        tree_rows.append(t[TREE_COLUMNS])
        n = t["nChildren"]
        summary.append(
            {
                "parentSae": p,
                "childSae": c,
                "layer": int(info.loc[p, "layer"]),
                "parentWidth": int(info.loc[p, "dSae"]),
                "childWidth": int(info.loc[c, "dSae"]),
                "consecutive": consecutive,
                "parents": len(t),
                "parentsWithTwoOrMore": int((n >= 2).sum()),
                "meanChildren": float(n.mean()) if len(t) else 0.0,
                "maxChildren": int(n.max()) if len(t) else 0,
                "children": int(n.sum()),
                "maxDepth": int(max(depths)) if depths else 0,
            }
        )
    trees = pd.concat(tree_rows, ignore_index=True) if tree_rows else pd.DataFrame(columns=TREE_COLUMNS)
    return {
        "trees": trees,
        "chains": _chains(info, nxt, kids),
        "summary": pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
    }


def _chains(info: pd.DataFrame, nxt: dict, kids: dict) -> pd.DataFrame:
    """Step 4: root-to-leaf paths along the width ladder spanning >= 3 widths."""
    ladder = {(p, c): tree for (p, c), tree in kids.items() if c in nxt.get(p, [])}
    has_parent = {child for tree in ladder.values() for chs in tree.values() for child, _ in chs}
    rows = []

    def walk(sid, feature, path, saes, cosines):
        extended = False
        for child_sae in nxt.get(sid, []):
            for child, cos in kids.get((sid, child_sae), {}).get(feature, []):
                extended = True
                walk(child_sae, child, [*path, child], [*saes, child_sae], [*cosines, cos])
        if not extended and len(path) >= 3:
            rows.append([int(info.loc[saes[0], "layer"]), path[0], len(path), path, saes, cosines])

    roots = sorted({(p, root) for (p, _), tree in ladder.items() for root in tree if root not in has_parent})
    for p, root in roots:
        walk(p, root, [root], [p], [])
    return pd.DataFrame(rows, columns=CHAIN_COLUMNS)
