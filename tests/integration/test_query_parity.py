"""Every named query on the embedded store equals a pandas / igraph reference from the same bundle.

Write-back properties are filled first (planted blocks as communities, igraph components,
igraph PageRank, pandas degree / strength) so the queries that read them return data.
Where NEO4J_URI is set, tests/neo4j/test_neo4j_parity.py runs the Neo4j texts too.
"""

from __future__ import annotations

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.embedded import load_bundle_embedded
from saegraph.queries import FeatureProperty, RelType, list_queries, open_store, run
from tests.helpers.store_fixtures import make_graph_bundle

GRAPH_TYPES = RelType.graph_types()
NEO4J_ONLY_AREAS = ("gds",)  # GDS procedure calls: Neo4j only by definition (embedded runs igraph)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    path = make_graph_bundle(root / "bundle", n_saes=2, n_features=120, seed=3)  # layers 0 and 1
    b = open_bundle(path)
    store = open_store(store_dir=root / "db", buffer_pool_size=512 * 1024 * 1024)
    load_bundle_embedded(path, store, progress=False)
    feats = b.frame("features")
    edges = {t: b.frame(t.table) for t in RelType}
    for t in GRAPH_TYPES:
        for prop, values in write_back(feats, edges[t]).items():
            store.write_feature_property(FeatureProperty.of(prop, t), values)
            feats[FeatureProperty.of(prop, t).value] = feats.featureId.map(
                values.set_index("featureId").value
            )
    yield store, b, feats, edges
    store.close()


def write_back(feats: pd.DataFrame, e: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {k: [] for k in ("community", "component", "pagerank", "degree", "strength")}
    for sae, f in feats.groupby("saeId"):
        ids = f.featureId.tolist()
        pos = {x: i for i, x in enumerate(ids)}
        es = e[e.saeId == sae]
        g = ig.Graph(n=len(ids), edges=list(zip(es.source.map(pos), es.target.map(pos))))
        weight_col = [c for c in ("npmi", "weight", "similarity") if c in es.columns][0]
        g.es["w"] = es[weight_col].abs().to_numpy()
        out["community"].append(
            pd.DataFrame({"featureId": ids, "value": f["index"].to_numpy() * 4 // len(ids)})
        )
        out["component"].append(
            pd.DataFrame({"featureId": ids, "value": g.connected_components().membership})
        )
        out["pagerank"].append(pd.DataFrame({"featureId": ids, "value": g.pagerank(weights="w")}))
        out["degree"].append(pd.DataFrame({"featureId": ids, "value": g.degree()}))
        out["strength"].append(pd.DataFrame({"featureId": ids, "value": g.strength(weights="w")}))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def undirected(e: pd.DataFrame) -> pd.DataFrame:
    """Both directions of each stored relationship: columns a (from), b (to) + properties."""
    fwd = e.rename(columns={"source": "a", "target": "b"})
    back = e.rename(columns={"source": "b", "target": "a"})
    return pd.concat([fwd, back], ignore_index=True)


def assert_frames(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    assert list(got.columns) == list(want.columns), (
        f"{name}: columns {list(got.columns)} != {list(want.columns)}"
    )
    assert len(got) == len(want), (
        f"{name}: {len(got)} rows, reference {len(want)}\n{got.head()}\n{want.head()}"
    )
    for col in want.columns:
        g, w = got[col].tolist(), want[col].tolist()
        for i, (x, y) in enumerate(zip(g, w)):
            if isinstance(y, (list, np.ndarray)):
                assert list(x) == list(y), f"{name}.{col}[{i}]: {x} != {y}"
            elif isinstance(y, (float, np.floating)) or isinstance(x, (float, np.floating)):
                if y is None or (isinstance(y, float) and np.isnan(y)):
                    assert x is None or np.isnan(x), f"{name}.{col}[{i}]: {x} != NaN"
                else:
                    assert x == pytest.approx(float(y), rel=1e-9, abs=1e-12), f"{name}.{col}[{i}]: {x} != {y}"
            else:
                assert x == y, f"{name}.{col}[{i}]: {x!r} != {y!r}"


# ---------------------------------------------------------------- references (one per query)


def ref_lookup_feature_card(b, feats, edges, featureId):
    f = feats[feats.featureId == featureId].copy()
    saes = b.frame("saes")
    f = f.merge(saes[["saeId", "hookName", "layer", "modelId"]], on="saeId")
    return f[
        [
            "featureId",
            "saeId",
            "index",
            "density",
            "nFirings",
            "meanAct",
            "maxAct",
            "decoderNorm",
            "dead",
            "topTokens",
            "topTokenActs",
            "topLogits",
            "topLogitValues",
            "topExamples",
            "hookName",
            "layer",
            "modelId",
            "communityCoActivates",
            "componentCoActivates",
            "pagerankCoActivates",
        ]
    ]


def ref_lookup_search_top_token(b, feats, edges, token, saeId=None, k=20):
    f = feats[feats.topTokens.map(lambda t: token in list(t))]
    if saeId:
        f = f[f.saeId == saeId]
    f = f.sort_values(["maxAct", "featureId"], ascending=[False, True]).head(k)
    return f[["featureId", "saeId", "index", "maxAct", "density", "topTokens"]]


def ref_lookup_features_by_sae(b, feats, edges, saeId, minDensity=0.0, skip=0, limit=100):
    f = feats[(feats.saeId == saeId) & (feats.density >= minDensity)].sort_values("index")
    return f.iloc[skip : skip + limit][["featureId", "index", "density", "maxAct", "dead", "topTokens"]]


def ref_lookup_sae_overview(b, feats, edges):
    s = b.frame("saes").sort_values("saeId")
    g = feats.groupby("saeId").agg(nFeatures=("featureId", "size"), nDead=("dead", "sum")).reset_index()
    s = s.merge(g, on="saeId")
    return s[
        ["saeId", "modelId", "hookName", "layer", "dIn", "dSae", "architecture", "l0", "nFeatures", "nDead"]
    ]


def ref_lookup_runs(b, feats, edges):
    return pd.DataFrame(
        {
            "runId": [b.run_id],
            "createdAt": [b.manifest["createdAt"]],
            "codeVersion": [b.manifest["codeVersion"]],
            "complete": [True],
            "nSaes": [len(b.sae_ids)],
        }
    )


def ref_lookup_current_run(b, feats, edges, featureId):
    return pd.DataFrame({"runId": [b.run_id]})


def _flow_reach(b, edges, featureId, hops, minCosine, forward: bool) -> pd.DataFrame:
    e = edges[RelType.FLOWS_TO]
    e = e[e.cosine >= minCosine]
    step = e.groupby("source" if forward else "target")["target" if forward else "source"].apply(list)
    layer = b.frame("saes").set_index("saeId")["layer"]
    seen, frontier = {}, [featureId]
    for depth in range(1, min(hops, 8) + 1):
        nxt = [g for f in frontier for g in step.get(f, []) if g not in seen]
        for g in nxt:
            seen.setdefault(g, depth)
        frontier = list(dict.fromkeys(nxt))
    rows = pd.DataFrame(
        {
            "featureId": list(seen),
            "saeId": [g.split(":")[0] for g in seen],
            "layer": [int(layer[g.split(":")[0]]) for g in seen],
            "hops": list(seen.values()),
        }
    )
    return rows.sort_values(["layer", "featureId"], ascending=[forward, True]).reset_index(drop=True)


def ref_flow_trace_forward(b, feats, edges, featureId, hops=3, minCosine=0.5):
    return _flow_reach(b, edges, featureId, hops, minCosine, forward=True)


def ref_flow_trace_backward(b, feats, edges, featureId, hops=3, minCosine=0.5):
    return _flow_reach(b, edges, featureId, hops, minCosine, forward=False)


def _flow_ends(feats, edges, saeId, minCosine, limit, incoming: bool) -> pd.DataFrame:
    e = edges[RelType.FLOWS_TO]
    best = e.groupby("target" if incoming else "source")["cosine"].max()
    f = feats[feats.saeId == saeId].sort_values("index")
    b = f.featureId.map(best)
    keep = b.isna() | (b < minCosine)
    name = "bestIncoming" if incoming else "bestOutgoing"
    out = pd.DataFrame({"featureId": f.featureId[keep], "index": f["index"][keep], name: b[keep]})
    return out.head(limit).reset_index(drop=True)


def ref_flow_born_at(b, feats, edges, saeId, minCosine=0.5, limit=100):
    return _flow_ends(feats, edges, saeId, minCosine, limit, incoming=True)


def ref_flow_ends_at(b, feats, edges, saeId, minCosine=0.5, limit=100):
    return _flow_ends(feats, edges, saeId, minCosine, limit, incoming=False)


def ref_flow_layer_summary(b, feats, edges, minCosine=0.5):
    e = edges[RelType.FLOWS_TO]
    e = e[e.cosine >= minCosine]
    width = b.frame("saes").set_index("saeId")["dSae"]
    rows = []
    for (sa, sb), g in e.groupby(["sourceSae", "targetSae"]):
        rows.append(
            {
                "sourceSae": sa,
                "targetSae": sb,
                "sourceLayer": int(g.sourceLayer.iloc[0]),
                "targetLayer": int(g.targetLayer.iloc[0]),
                "edges": len(g),
                "continuingFraction": g.source.nunique() / width[sa],
                "bornFraction": 1.0 - g.target.nunique() / width[sb],
                "meanCosine": g.cosine.mean(),
                "meanPTargetGivenSource": g.pTargetGivenSource.mean(),
            }
        )
    return pd.DataFrame(rows).sort_values(["sourceLayer", "sourceSae", "targetSae"]).reset_index(drop=True)


def ref_neighbors_top_k(b, feats, edges, featureId, relType, k=10, runId=None):
    t = RelType.parse(relType)
    u = undirected(edges[t])
    u = u[u.a == featureId].copy()
    u["weight"] = u[t.weight]
    u["strength"] = u[t.weight].abs()
    u = u.merge(feats[["featureId", "index", "topTokens"]], left_on="b", right_on="featureId")
    u = (
        u.rename(columns={"b": "neighborId"})
        .sort_values(["strength", "neighborId"], ascending=[False, True])
        .head(k)
    )
    return u[["neighborId", "index", "weight", "strength", "topTokens"]]


def _of_feature(feats, edges, t, featureId, cols, order, k):
    u = undirected(edges[t])
    u = u[u.a == featureId].copy()
    u["key"] = u[order].abs()
    u = u.merge(feats[["featureId", "topTokens"]], left_on="b", right_on="featureId")
    u = u.rename(columns={"b": "neighborId"})
    keys = ["key", *(["weightAbs"] if t == RelType.LASSO else []), "neighborId"]
    if t == RelType.LASSO:
        u["weightAbs"] = u["weight"].abs()
    u = u.sort_values(keys, ascending=[False] * (len(keys) - 1) + [True]).head(k)
    return u[["neighborId", *cols, "topTokens"]]


def ref_neighbors_co_activates_of_feature(b, feats, edges, featureId, k=5):
    return _of_feature(feats, edges, RelType.CO_ACTIVATES, featureId, ["npmi", "count", "qValue"], "npmi", k)


def ref_neighbors_lasso_of_feature(b, feats, edges, featureId, k=5):
    cols = ["weight", "stability", "qValue"]
    return _of_feature(feats, edges, RelType.LASSO, featureId, cols, "stability", k)


def ref_neighbors_excludes_of_feature(b, feats, edges, featureId, k=5):
    u = undirected(edges[RelType.EXCLUDES])
    u = u[u.a == featureId].merge(feats[["featureId", "topTokens"]], left_on="b", right_on="featureId")
    u = u.rename(columns={"b": "neighborId"})
    u = u.sort_values(["exclusion", "expected", "neighborId"], ascending=[False, False, True]).head(k)
    return u[["neighborId", "exclusion", "count", "expected", "qValue", "topTokens"]]


def ref_neighbors_ego_network(b, feats, edges, featureId, relType):
    t = RelType.parse(relType)
    e = edges[t]
    u = undirected(e)
    ids = set(u[u.a == featureId].b) | {featureId}
    if len(ids) == 1:
        ids = set()
    sub = e[e.source.isin(ids) & e.target.isin(ids)].copy()
    sub["weight"] = sub[t.weight]
    return sub.sort_values(["source", "target"])[["source", "target", "weight"]]


def ref_neighbors_common(b, feats, edges, featureA, featureB, relType):
    t = RelType.parse(relType)
    u = undirected(edges[t])
    na = u[u.a == featureA].set_index("b")[t.weight]
    nb = u[u.a == featureB].set_index("b")[t.weight]
    common = sorted(set(na.index) & set(nb.index) - {featureA, featureB})
    return pd.DataFrame(
        {"neighborId": common, "weightA": [na[c] for c in common], "weightB": [nb[c] for c in common]},
        columns=["neighborId", "weightA", "weightB"],
    )


def _graph(feats, e):
    ids = feats.featureId.tolist()
    pos = {x: i for i, x in enumerate(ids)}
    return ig.Graph(n=len(ids), edges=list(zip(e.source.map(pos), e.target.map(pos)))), ids, pos


def check_paths_shortest_unweighted(got, b, feats, edges, source, target, relType):
    t = RelType.parse(relType)
    g, ids, pos = _graph(feats, edges[t])
    d = g.distances(pos[source], pos[target])[0][0]
    if not np.isfinite(d) or d > 10:
        assert len(got) == 0
        return
    assert len(got) == 1 and got.hops.iloc[0] == d
    path = list(got.path.iloc[0])
    assert path[0] == source and path[-1] == target and len(path) == d + 1
    pairs = set(map(tuple, edges[t][["source", "target"]].to_numpy()))
    assert all((x, y) in pairs or (y, x) in pairs for x, y in zip(path, path[1:]))


def ref_paths_two_hop_reach(b, feats, edges, featureId, relType):
    t = RelType.parse(relType)
    g, ids, pos = _graph(feats, edges[t])
    n1 = len(set(g.neighbors(pos[featureId])))
    n2 = len(set(g.neighborhood(pos[featureId], order=2)) - {pos[featureId]})
    return pd.DataFrame({"featureId": [featureId], "nWithin1": [n1], "nWithin2": [n2]})


def _prop(kind, relType):
    return FeatureProperty.of(kind, relType).value


def ref_communities_summary(b, feats, edges, relType, saeId=None):
    c = _prop("community", relType)
    f = feats[feats[c].notna()]
    if saeId:
        f = f[f.saeId == saeId]
    g = f.groupby(["saeId", c]).agg(size=("featureId", "size"), meanDensity=("density", "mean")).reset_index()
    g = g.rename(columns={c: "community"}).sort_values(
        ["saeId", "size", "community"], ascending=[True, False, True]
    )
    return g[["saeId", "community", "size", "meanDensity"]]


def ref_communities_members(b, feats, edges, relType, saeId, community, k=100):
    c = _prop("community", relType)
    f = feats[(feats.saeId == saeId) & (feats[c] == community)]
    return f.sort_values(["density", "featureId"], ascending=[False, True]).head(k)[
        ["featureId", "index", "density", "topTokens"]
    ]


def ref_communities_of_feature(b, feats, edges, featureId, relType, k=20):
    c = _prop("community", relType)
    me = feats[feats.featureId == featureId].iloc[0]
    f = feats[(feats.saeId == me.saeId) & (feats[c] == me[c]) & (feats.featureId != featureId)].copy()
    f["community"] = f[c]
    return f.sort_values(["density", "featureId"], ascending=[False, True]).head(k)[
        ["featureId", "community", "density"]
    ]


def ref_communities_edge_split(b, feats, edges, relType, saeId):
    c = _prop("community", relType)
    comm = feats.set_index("featureId")[c]
    e = edges[RelType.parse(relType)]
    e = e[e.saeId == saeId]
    ca, cb = e.source.map(comm), e.target.map(comm)
    df = pd.DataFrame(
        {"community": ca, "internalEdges": (ca == cb).astype(int), "boundaryEdges": (ca != cb).astype(int)}
    )
    return (
        df.groupby("community")
        .sum()
        .reset_index()
        .sort_values("community")[["community", "internalEdges", "boundaryEdges"]]
    )


def ref_components_sizes(b, feats, edges, relType, saeId=None):
    c = _prop("component", relType)
    f = feats if saeId is None else feats[feats.saeId == saeId]
    g = f.groupby(["saeId", c]).size().reset_index(name="size").rename(columns={c: "component"})
    return g.sort_values(["saeId", "size", "component"], ascending=[True, False, True])[
        ["saeId", "component", "size"]
    ]


def ref_components_of_feature(b, feats, edges, featureId, relType):
    c = _prop("component", relType)
    me = feats[feats.featureId == featureId].iloc[0]
    size = int(((feats.saeId == me.saeId) & (feats[c] == me[c])).sum())
    return pd.DataFrame({"featureId": [featureId], "component": [me[c]], "size": [size]})


def ref_components_summary(b, feats, edges, relType):
    c = _prop("component", relType)
    sizes = feats.groupby(["saeId", c]).size().reset_index(name="size")
    g = (
        sizes.groupby("saeId")
        .agg(
            nComponents=("size", "size"),
            largest=("size", "max"),
            nSingletons=("size", lambda s: int((s == 1).sum())),
        )
        .reset_index()
    )
    return g[["saeId", "nComponents", "largest", "nSingletons"]]


def ref_centrality_top_pagerank(b, feats, edges, relType, saeId=None, k=10):
    c = _prop("pagerank", relType)
    f = (feats if saeId is None else feats[feats.saeId == saeId]).copy()
    f["pagerank"] = f[c]
    return f.sort_values(["pagerank", "featureId"], ascending=[False, True]).head(k)[
        ["featureId", "saeId", "pagerank", "topTokens"]
    ]


def ref_centrality_top_degree(b, feats, edges, relType, saeId=None, k=10):
    t = RelType.parse(relType)
    u = undirected(edges[t])
    u = u.merge(
        feats[["featureId", "saeId"]].rename(columns={"saeId": "fSae"}), left_on="a", right_on="featureId"
    )
    if saeId:
        u = u[u.fSae == saeId]
    g = u.groupby("a").agg(degree=("b", "size"), strength=(t.weight, lambda s: s.abs().sum())).reset_index()
    g = (
        g.rename(columns={"a": "featureId"})
        .sort_values(["degree", "featureId"], ascending=[False, True])
        .head(k)
    )
    return g[["featureId", "degree", "strength"]]


def ref_centrality_top_strength(b, feats, edges, relType, saeId=None, k=10):
    f = (feats if saeId is None else feats[feats.saeId == saeId]).copy()
    f["strength"], f["degree"] = f[_prop("strength", relType)], f[_prop("degree", relType)]
    return f.sort_values(["strength", "featureId"], ascending=[False, True]).head(k)[
        ["featureId", "saeId", "strength", "degree"]
    ]


def ref_compare_degree_distribution(b, feats, edges, relType, saeId):
    u = undirected(edges[RelType.parse(relType)])
    f = feats[feats.saeId == saeId]
    deg = f.featureId.map(u.groupby("a").size()).fillna(0).astype(int)
    g = deg.value_counts().sort_index()
    return pd.DataFrame({"degree": g.index.to_numpy(), "nFeatures": g.to_numpy()})


def ref_compare_weight_summary(b, feats, edges, relType):
    t = RelType.parse(relType)
    g = edges[t].groupby("saeId")[t.weight].agg(["size", "mean", "min", "max"]).reset_index()
    g.columns = ["saeId", "nEdges", "meanWeight", "minWeight", "maxWeight"]
    return g


def ref_compare_edge_overlap(b, feats, edges, relType, saeA, saeB):
    t = RelType.parse(relType)
    e = edges[t]
    m = edges[RelType.MATCHES]
    m = m[m.target.str.startswith(saeB + ":")][["source", "target"]]
    ea = e[e.saeId == saeA].merge(m, left_on="source", right_on="source", suffixes=("", "_b1"))
    ea = ea.rename(columns={"target_b1": "b1"}).merge(
        m, left_on="target", right_on="source", suffixes=("", "_m")
    )
    ea = ea.rename(columns={"target_m": "b2"})
    pairs = set(map(tuple, e[["source", "target"]].to_numpy()))
    preserved = sum(((x, y) in pairs) + ((y, x) in pairs) for x, y in zip(ea.b1, ea.b2))
    n = len(ea)
    return pd.DataFrame(
        {"nMappable": [n], "nPreserved": [preserved], "overlap": [preserved / n if n else np.nan]}
    )


def ref_compare_community_agreement(b, feats, edges, relType, saeA, saeB):
    c = feats.set_index("featureId")[_prop("community", relType)]
    m = edges[RelType.MATCHES]
    m = m[m.source.str.startswith(saeA + ":") & m.target.str.startswith(saeB + ":")]
    df = pd.DataFrame(
        {"communityA": m.source.map(c).to_numpy(), "communityB": m.target.map(c).to_numpy()}
    ).dropna()
    return df.groupby(["communityA", "communityB"]).size().reset_index(name="nMatches")


def ref_universality_match_stats(b, feats, edges):
    m = edges[RelType.MATCHES]
    g = (
        m.groupby(["sourceSae", "targetSae", "method"])
        .agg(
            nMatches=("source", "size"),
            nMutual=("mutual", "sum"),
            meanCosine=("cosine", "mean"),
            meanActCorr=("actCorr", "mean"),
        )
        .reset_index()
    )
    return g


def ref_universality_unmatched_features(b, feats, edges, saeA, saeB, k=100):
    u = undirected(edges[RelType.MATCHES])
    matched = set(u[u.b.str.startswith(saeB + ":")].a)
    f = feats[(feats.saeId == saeA) & ~feats.featureId.isin(matched)]
    return f.sort_values(["density", "featureId"], ascending=[False, True]).head(k)[["featureId", "density"]]


def ref_universality_matches_of_feature(b, feats, edges, featureId):
    u = undirected(edges[RelType.MATCHES])
    u = u[u.a == featureId].copy()
    u["matchId"], u["saeId"] = u.b, u.b.str.split(":").str[0]
    return u.sort_values(["cosine", "matchId", "method"], ascending=[False, True, True])[
        ["matchId", "saeId", "cosine", "actCorr", "method", "mutual"]
    ]


def ref_universality_cosine_histogram(b, feats, edges, saeA, saeB):
    m = edges[RelType.MATCHES]
    m = m[(m.sourceSae == saeA) & (m.targetSae == saeB)]
    bins = np.floor(m.cosine * 10.0) / 10.0
    g = bins.value_counts().sort_index()
    return pd.DataFrame({"binStart": g.index.to_numpy(), "nMatches": g.to_numpy()})


def ref_family_pairs(b, feats, edges, tau=0.7):
    m = edges[RelType.MATCHES]
    saes = b.frame("saes").set_index("saeId")
    rows = []
    for (sa, sb), g in m.groupby(["sourceSae", "targetSae"]):
        hung = g[g.method == "hungarian"]
        rows.append(
            {
                "saeA": sa,
                "saeB": sb,
                "layerA": int(saes.loc[sa, "layer"]),
                "layerB": int(saes.loc[sb, "layer"]),
                "widthA": int(saes.loc[sa, "dSae"]),
                "widthB": int(saes.loc[sb, "dSae"]),
                "nHungarian": len(hung),
                "nMnn": int((g.method == "mnn").sum()),
                "nParent": int((g.method == "parent").sum()),
                "meanHungarianCosine": hung.cosine.mean() if len(hung) else np.nan,
                "sharedFraction": (hung.cosine >= tau).sum() / saes.loc[sa, "dSae"],
            }
        )
    return pd.DataFrame(rows).sort_values(["saeA", "saeB"])


def ref_family_layer_degrees(b, feats, edges):
    u = undirected(edges[RelType.CO_ACTIVATES])
    saes = b.frame("saes")
    rows = []
    for _, s in saes.iterrows():
        f = feats[feats.saeId == s.saeId]
        deg = f.featureId.map(u.groupby("a").size()).fillna(0).astype(int)
        live = int((~f.dead.astype(bool)).sum())
        rows.append(
            {
                "saeId": s.saeId,
                "layer": int(s.layer),
                "dSae": int(s.dSae),
                "nFeatures": len(f),
                "nLive": live,
                "coActivatesEdges": int((edges[RelType.CO_ACTIVATES].saeId == s.saeId).sum()),
                "meanDegree": deg.sum() / live if live else np.nan,
                "maxDegree": int(deg.max()),
            }
        )
    return pd.DataFrame(rows).sort_values(["layer", "saeId"])


# ---------------------------------------------------------------- cases


def cases():
    """(query name, params) pairs; every named query appears at least once."""
    f, g, far = "s0:3", "s0:5", "s0:100"
    out = [
        ("lookup.feature_card", {"featureId": f}),
        ("lookup.search_top_token", {"token": "tok5"}),
        ("lookup.search_top_token", {"token": "tok7", "saeId": "s1", "k": 3}),
        ("lookup.features_by_sae", {"saeId": "s1", "minDensity": 0.05, "skip": 5, "limit": 20}),
        ("lookup.sae_overview", {}),
        ("lookup.runs", {}),
        ("lookup.current_run", {"featureId": f}),
        ("universality.match_stats", {}),
        ("universality.unmatched_features", {"saeA": "s0", "saeB": "s1"}),
        ("universality.unmatched_features", {"saeA": "s1", "saeB": "s0", "k": 5}),
        ("universality.matches_of_feature", {"featureId": f}),
        ("universality.matches_of_feature", {"featureId": "s1:7"}),
        ("universality.cosine_histogram", {"saeA": "s0", "saeB": "s1"}),
        ("compare.community_agreement", {"relType": "CO_ACTIVATES", "saeA": "s0", "saeB": "s1"}),
        ("neighbors.co_activates_of_feature", {"featureId": f}),
        ("neighbors.lasso_of_feature", {"featureId": f, "k": 3}),
        ("neighbors.excludes_of_feature", {"featureId": f}),
        ("neighbors.excludes_of_feature", {"featureId": "s0:0", "k": 2}),
    ]
    for start in ("s0:0", "s0:1", "s0:2", "s0:7", "s0:9"):
        out += [
            ("flow.trace_forward", {"featureId": start}),
            ("flow.trace_forward", {"featureId": start, "hops": 1, "minCosine": 0.3}),
        ]
    for end in ("s1:0", "s1:4", "s1:9"):
        out += [("flow.trace_backward", {"featureId": end, "minCosine": 0.3})]
    out += [
        ("flow.born_at", {"saeId": "s1"}),
        ("flow.born_at", {"saeId": "s1", "minCosine": 0.7, "limit": 15}),
        ("flow.born_at", {"saeId": "s0", "limit": 5}),
        ("flow.ends_at", {"saeId": "s0", "minCosine": 0.4}),
        ("flow.ends_at", {"saeId": "s1", "limit": 5}),
        ("flow.layer_summary", {}),
        ("flow.layer_summary", {"minCosine": 0.3}),
        ("family.pairs", {}),
        ("family.pairs", {"tau": 0.5}),
        ("family.layer_degrees", {}),
    ]
    for t in RelType:
        out += [
            ("neighbors.top_k", {"featureId": f, "relType": t.value, "k": 4}),
            ("neighbors.ego_network", {"featureId": f, "relType": t.value}),
            ("neighbors.common", {"featureA": f, "featureB": g, "relType": t.value}),
            ("paths.shortest_unweighted", {"source": f, "target": far, "relType": t.value}),
            ("paths.two_hop_reach", {"featureId": f, "relType": t.value}),
            ("centrality.top_degree", {"relType": t.value, "saeId": "s0", "k": 7}),
            ("compare.degree_distribution", {"relType": t.value, "saeId": "s1"}),
        ]
    for t in GRAPH_TYPES:
        out += [
            ("communities.summary", {"relType": t.value}),
            ("communities.members", {"relType": t.value, "saeId": "s0", "community": 2, "k": 10}),
            ("communities.of_feature", {"featureId": f, "relType": t.value}),
            ("communities.edge_split", {"relType": t.value, "saeId": "s1"}),
            ("components.sizes", {"relType": t.value}),
            ("components.of_feature", {"featureId": f, "relType": t.value}),
            ("components.summary", {"relType": t.value}),
            ("centrality.top_pagerank", {"relType": t.value, "k": 5}),
            ("centrality.top_strength", {"relType": t.value, "saeId": "s1", "k": 5}),
            ("compare.weight_summary", {"relType": t.value}),
            ("compare.edge_overlap", {"relType": t.value, "saeA": "s0", "saeB": "s1"}),
        ]
    return out


CASES = cases()


def test_every_named_query_has_a_parity_case():
    covered = {name for name, _ in CASES}
    missing = [n for n in list_queries() if n.split(".")[0] not in NEO4J_ONLY_AREAS and n not in covered]
    assert not missing, f"named queries without a parity case: {missing}"


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_query_matches_reference(env, name, params):
    store, b, feats, edges = env
    got = run(store, name, **params)
    key = name.replace(".", "_")
    if "check_" + key in globals():
        globals()["check_" + key](got, b, feats, edges, **params)
        return
    want = globals()["ref_" + key](b, feats, edges, **params).reset_index(drop=True)
    assert_frames(got.reset_index(drop=True), want, name)
    assert len(want) > 0 or name in ("neighbors.common",), f"{name}: empty reference; the case tests nothing"
