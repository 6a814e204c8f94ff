"""Pictures of the feature graph: a community, an ego network or a path, as interactive HTML.

Algorithm:
1. ``subgraph(source, ...)`` picks the nodes from a bundle or either store (any
   ``saegraph.queries.analysis.sources`` source): the members of one community (densest
   first, at most ``max_nodes``), a feature and its strongest neighbours, or the features
   on the shortest path between two features. Community labels come from the store's
   ``community<Type>`` write-back, else Leiden is run here (nothing written).
2. Edges: every relationship of the requested types among those nodes, with its type,
   weight statistic, sign (LASSO coefficients are signed) and q-value where it has one.
3. ``visualization_graph(sub)`` maps it onto Neo4j's ``neo4j-viz`` renderer (the renderer
   of Neo4j's own tools, shipped inside its wheel, so the HTML is self-contained and works
   offline): nodes coloured by community, sized by log density, captioned by top tokens,
   with the feature card's fields as node properties (shown when a node is clicked);
   relationships captioned by type, coloured by type and sign, width by |weight|, with
   type/statistic/sign/q as properties (shown on hover and click).
4. ``write_html(sub, path)`` writes one self-contained HTML file; ``render(sub)`` returns
   the IPython HTML object that notebooks display inline.

``neo4j-viz`` is GPL-3.0 and therefore an optional extra (``pip install 'saegraph[viz]'``):
saegraph itself stays MIT and imports it only here, inside functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from saegraph.errors import SaegraphError
from saegraph.queries.analysis.cards import card_properties

# categorical palette (Tableau 10), then grey for communities beyond it and for singletons
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#bcbd22",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
]
OTHER = "#bab0ac"
REL_COLOURS = {"CO_ACTIVATES": "#9aa5b1", "LASSO": "#2e7d32", "COSINE": "#a0785a", "MATCHES": "#6a3d9a"}
NEGATIVE = "#d62728"
EDGE_CAPTIONS_UP_TO = 40
"""Edges are captioned (type and weight) only in small pictures; hover shows them always."""
WEIGHT_OF = {"CO_ACTIVATES": "npmi", "LASSO": "weight", "COSINE": "similarity", "MATCHES": "cosine"}


class ViewError(SaegraphError):
    """A picture that cannot be drawn as asked."""


@dataclass
class Subgraph:
    title: str
    nodes: pd.DataFrame  # featureId, density, topTokens, community, ... (feature columns)
    edges: pd.DataFrame  # source, target, type, stat, weight, sign, qValue
    focus: list[str] = field(default_factory=list)


def _community_column(rel: str) -> str:
    from saegraph.schema.graph import FeatureProperty

    return FeatureProperty.of("community", rel).value


def _features_with_communities(source, sae_id: str, rel: str) -> pd.DataFrame:
    feats = source.features(sae_id).copy()
    col = _community_column(rel)
    if col not in feats.columns or feats[col].isna().all():
        from saegraph.queries.analysis import engine

        labels = engine.communities(source, sae_id, rel, seed=0, write=False)["labels"]
        feats[col] = feats["featureId"].map(labels.set_index("featureId")["community"])
    feats["community"] = feats[col]
    return feats


def _edges_among(source, sae_id: str, rels: list[str], ids: set[str]) -> pd.DataFrame:
    rows = []
    for rel in rels:
        e = source.edges(rel, sae_id if rel != "MATCHES" else None)
        if e.empty:
            continue
        e = e[e["source"].isin(ids) & e["target"].isin(ids)]
        stat = WEIGHT_OF[rel]
        for r in e.to_dict("records"):
            w = float(r.get(stat, float("nan")))
            rows.append(
                {
                    "source": r["source"],
                    "target": r["target"],
                    "type": rel,
                    "stat": stat,
                    "weight": w,
                    "sign": "-" if w < 0 else "+",
                    "qValue": r.get("qValue"),
                }
            )
    cols = ["source", "target", "type", "stat", "weight", "sign", "qValue"]
    return pd.DataFrame(rows, columns=cols)


def subgraph(
    source,
    *,
    community: int | None = None,
    sae_id: str | None = None,
    ego: str | None = None,
    path: tuple[str, str] | None = None,
    rels: tuple[str, ...] = ("CO_ACTIVATES", "LASSO"),
    max_nodes: int = 60,
) -> Subgraph:
    """The nodes and edges of one picture (see the module docstring, steps 1-2)."""
    from saegraph.schema.graph import RelType

    rels_n = [RelType.parse(r).value for r in rels]
    rel = rels_n[0]
    chosen = [x is not None for x in (community, ego, path)]
    if sum(chosen) != 1:
        raise ViewError("choose one picture: --community N (with --sae), --ego FEATURE or --path A B")
    if ego is not None:
        sae_id = ego.rsplit(":", 1)[0]
    elif path is not None:
        sae_id = path[0].rsplit(":", 1)[0]
    if sae_id is None:
        sae_ids = source.sae_ids()
        if not sae_ids:
            raise ViewError("the store has no SAEs: load a bundle first (`saegraph load BUNDLE`)")
        sae_id = sae_ids[0]
    feats = _features_with_communities(source, sae_id, rel)
    by_id = feats.set_index("featureId", drop=False)
    focus: list[str] = []
    if community is not None:
        members = feats[feats["community"] == community]
        if members.empty:
            raise ViewError(
                f"community {community} of {sae_id} over {rel} is empty: list them with "
                f"`saegraph query communities.summary -p relType={rel} -p saeId={sae_id}`"
            )
        ids = members.sort_values("density", ascending=False)["featureId"].head(max_nodes).tolist()
        title = f"{sae_id}: community {community} over {rel} ({len(members)} features, {len(ids)} shown)"
    elif ego is not None:
        if ego not in by_id.index:
            raise ViewError(f"no feature {ego!r} in {sae_id}: ids are 'saeId:index'")
        e = source.edges(rel, sae_id)
        e = e[(e["source"] == ego) | (e["target"] == ego)].copy()
        e["other"] = np.where(e["source"] == ego, e["target"], e["source"])
        e["strength"] = e[WEIGHT_OF[rel] if rel != "LASSO" else "stability"].abs()
        nbrs = e.sort_values("strength", ascending=False)["other"].drop_duplicates().head(max_nodes - 1)
        ids = [ego, *nbrs.tolist()]
        focus = [ego]
        title = f"{ego}: ego network over {rel} ({len(ids) - 1} strongest neighbours)"
    else:
        from saegraph.queries.analysis import engine

        assert path is not None  # exactly one picture was chosen above
        a, b = path
        res = engine.path(source, a, b, rel)
        table = res["paths"]
        if table.empty:
            raise ViewError(
                f"no path between {a} and {b} over {rel}: try another --rel or `saegraph view --ego {a}`"
            )
        ids = list(dict.fromkeys(table["nodes"].iloc[0]))
        focus = [a, b]
        title = f"path {a} -> {b} over {rel} ({len(ids) - 1} hops)"
    nodes = by_id.loc[ids].reset_index(drop=True)
    edges = _edges_among(source, sae_id, rels_n, set(ids))
    return Subgraph(title, nodes, edges, focus)


def _caption(tokens, n: int = 3) -> str:
    toks = [" ".join(str(t).split()) for t in (list(tokens) if tokens is not None else [])[:n]]
    return " · ".join(t for t in toks if t) or "(no tokens)"


def _sizes(density: pd.Series, lo: float = 8.0, hi: float = 30.0) -> list[float]:
    d = np.log10(np.clip(density.astype(float).fillna(0).to_numpy(), 1e-6, 1.0))
    if d.size == 0 or d.max() == d.min():
        return [(lo + hi) / 2] * len(d)
    return (lo + (hi - lo) * (d - d.min()) / (d.max() - d.min())).tolist()


def _colour(community, order: dict) -> str:
    if community is None or (isinstance(community, float) and math.isnan(community)):
        return OTHER
    i = order.get(int(community))
    return PALETTE[i] if i is not None and i < len(PALETTE) else OTHER


def _clean(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.tolist() if hasattr(v, "tolist") else v


def visualization_graph(sub: Subgraph):
    """A ``neo4j_viz.VisualizationGraph`` of the subgraph (see the module docstring, step 3)."""
    try:
        from neo4j_viz import Node, Relationship, VisualizationGraph
    except ImportError as exc:
        raise ViewError(
            "graph pictures need the optional renderer: pip install 'saegraph[viz]' (neo4j-viz, GPL-3.0)"
        ) from exc
    counts = sub.nodes["community"].value_counts()
    order = {int(c): i for i, c in enumerate(counts.index) if not pd.isna(c)}
    nodes = []
    for row, size in zip(sub.nodes.to_dict("records"), _sizes(sub.nodes["density"])):
        card = {k: _clean(v) for k, v in row.items()}
        props = card_properties(card)
        comm = card.get("community")
        props["community"] = "-" if comm is None else str(int(comm))
        nodes.append(
            Node(
                id=row["featureId"],
                caption=_caption(row.get("topTokens")),
                size=size * (1.3 if row["featureId"] in sub.focus else 1.0),
                color=_colour(comm, order),
                properties=props,
            )
        )
    top = max([abs(w) for w in sub.edges["weight"] if w == w] or [1.0])
    rels = []
    for n, e in enumerate(sub.edges.to_dict("records")):
        w = e["weight"]
        q = _clean(e.get("qValue"))
        rels.append(
            Relationship(
                id=f"r{n}",
                source=e["source"],
                target=e["target"],
                caption=f"{e['type']} {w:+.2f}" if len(sub.edges) <= EDGE_CAPTIONS_UP_TO else None,
                color=NEGATIVE if e["sign"] == "-" else REL_COLOURS.get(e["type"], OTHER),
                width=1.0 + 5.0 * abs(w) / top if w == w else 1.0,
                properties={
                    "relationship": e["type"],
                    e["stat"]: f"{w:+.4f}",
                    "sign": "negative" if e["sign"] == "-" else "positive",
                    **({"qValue": f"{q:.2e}"} if q is not None else {}),
                },
            )
        )
    return VisualizationGraph(nodes=nodes, relationships=rels)


def render(sub: Subgraph, height: str = "640px"):
    """The IPython HTML object (notebooks display it inline)."""
    return visualization_graph(sub).render(height=height, theme="light", initial_zoom=None)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


KEY = (
    "colour: community · size: log density · caption: top tokens · "
    "edges: grey CO_ACTIVATES, green LASSO, brown COSINE, red negative; width |weight| · click a node for its card"
)


def html(sub: Subgraph, height: str = "100vh") -> str:
    """One self-contained HTML page (no network needed) with the title and a key on top."""
    page = render(sub, height=height).data
    title = _escape(sub.title)
    header = (
        '<div id="saegraph-title" style="position:fixed;top:8px;left:12px;z-index:10;'
        "font:14px system-ui,sans-serif;background:rgba(255,255,255,.85);padding:4px 8px;"
        f'border-radius:4px;pointer-events:none"><b>{title}</b><br><small>{_escape(KEY)}</small></div>'
    )
    page = page.replace("<title>neo4j-viz</title>", f"<title>saegraph: {title}</title>", 1)
    return page.replace("</body>", header + "\n</body>", 1)


def write_html(sub: Subgraph, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html(sub), encoding="utf-8")
    return out
