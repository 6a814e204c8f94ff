"""Steps 1-3 of ``saegraph demo``: the corpus, the model and the SAEs, as an ingest config mapping.

1. Quick demo (``quick_config``): the synthetic model and two synthetic SAEs of different seeds.
2. Full demo (``prepare_saes``): the standard library's text split into training and graph text
   (``saegraph.demo.corpus``), all-MiniLM-L6-v2 through TransformerLens' ``TransformerBridge``
   (``model_config``), and the release's SAEs (``saegraph.demo.release.release_plan``) trained
   on one forward pass's activations of every hook and cached (``saegraph.demo.train_saes``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from saegraph.demo.release import release_plan
from saegraph.demo.settings import MODEL_NAME, MODEL_PACKAGE, DemoSettings


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
    """Steps 1-3 (full demo): corpus, model, the release's cached SAEs; returns the ingest config mapping."""
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
    members = release_plan(s)
    hooks = sorted({m.hook for m in members}, key=lambda h: [m.hook for m in members].index(h))
    keys = {
        h: train_saes.activations_key(train_cfg.model.model_id, h, corpus["train"]["sha256"], s.train_tokens)
        for h in hooks
    }
    acts_cache: dict = {}

    def activations(hook: str):
        if "acts" not in acts_cache:
            t0 = time.perf_counter()
            acts_cache["acts"] = train_saes.cached_hook_activations(
                cache_dir,
                keys,
                lambda missing: train_saes.collect_hook_activations(
                    model, sources.iter_batches(train_cfg, model), missing, s.train_tokens, progress
                ),
            )
            timings["training activations"] = time.perf_counter() - t0
        return acts_cache["acts"][hook]

    saes, trained = [], {}
    for m in members:
        settings = replace(s.sae, hook=m.hook, d_sae=m.width, seed=m.seed)
        t = time.perf_counter()
        path, stats, cached = train_saes.train_or_load(
            lambda hook=m.hook: activations(hook),
            keys[m.hook],
            settings,
            train_cfg.model.model_id,
            cache_dir,
            progress,
        )
        timings[f"sae {m.sae_id}" + (" (cached)" if cached else "")] = time.perf_counter() - t
        trained[m.sae_id] = {k: stats[k] for k in ("fvu", "l0", "deadFraction")} | {
            "cached": cached,
            "seed": m.seed,
            "layer": m.layer,
            "width": m.width,
        }
        saes.append(
            {"id": m.sae_id, "source": "local", "path": str(path), "release": "saegraph-demo", "seed": m.seed}
        )
    graph_map = model_config(model_path, corpus["graph"]["path"], s.graph_tokens, s)
    graph_map["saes"] = saes
    graph_map["edges"] = _edges_section(s)
    return {"config": graph_map, "saeTraining": trained, "corpus": corpus}
