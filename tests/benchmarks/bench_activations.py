"""Overhead of saegraph's activation pass over a bare model + SAE forward on the same tokens.

Baseline (what the pass cannot avoid): for every batch, ``run_with_cache`` with the SAE hook
only and ``stop_at_layer``, then ``sae.encode`` - nothing kept. saegraph: the same through
``saegraph.ingest.activations.run_activation_pass`` (BOS mask, NaN guard, CSR sparsification, chunk
writes with fsync). Prints one line: sizes, both times, the ratio, peak RSS.

    python tests/benchmarks/bench_activations.py [--tokens 65536] [--d-model 512] [--d-sae 8192]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def build(d_model: int, d_sae: int, n_layers: int, vocab: int, ctx: int, l0: int = 50, seed: int = 0):
    from sae_lens import StandardSAE, StandardSAEConfig
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from saegraph.ingest.sources.base import LoadedModel, LoadedSAE

    torch.manual_seed(seed)
    tl = HookedTransformer(
        HookedTransformerConfig(
            n_layers=n_layers,
            d_model=d_model,
            d_head=64,
            n_heads=d_model // 64,
            d_mlp=4 * d_model,
            d_vocab=vocab,
            n_ctx=ctx,
            act_fn="gelu",
            normalization_type="LN",
            seed=seed,
        )
    ).eval()
    model = LoadedModel(
        model_id="bench",
        name="bench",
        source="local",
        n_layers=n_layers,
        d_model=d_model,
        d_mlp=4 * d_model,
        d_vocab=vocab,
        n_params=sum(p.numel() for p in tl.parameters()),
        tokenizer=None,
        bos_token_id=0,
        pad_token_id=None,
        backend=tl,
    )
    sae_core = StandardSAE(StandardSAEConfig(d_in=d_model, d_sae=d_sae))
    hook = f"blocks.{n_layers - 1}.hook_resid_post"
    with torch.no_grad():  # calibrate b_enc so each latent fires on ~l0/d_sae of tokens (L0 ~ l0)
        sae_core.W_enc.normal_(0, 1 / d_model**0.5)
        probe = torch.randint(1, vocab, (16, ctx))
        _, cache = tl.run_with_cache(probe, names_filter=[hook])
        x = cache[hook].reshape(-1, d_model) - sae_core.b_dec
        pre = x @ sae_core.W_enc
        sae_core.b_enc.copy_(-torch.quantile(pre, 1 - l0 / d_sae, dim=0))
    sae = LoadedSAE(
        sae_id="s0",
        source="local",
        release="",
        sae_name="bench",
        hook_name=hook,
        layer=n_layers - 1,
        d_in=d_model,
        d_sae=d_sae,
        architecture="standard",
        seed=0,
        sae=sae_core,
    )
    return model, sae


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=65_536)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--d-model", type=int, default=512)
    ap.add_argument("--d-sae", type=int, default=8192)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--l0", type=int, default=50, help="target active latents per token")
    ap.add_argument("--repeats", type=int, default=2, help="best of N for each side")
    args = ap.parse_args()

    from saegraph.ingest.activations import run_activation_pass
    from saegraph.ingest.config import ActivationsConfig, Config, DatasetConfig, ModelConfig, SAEConfig
    from saegraph.ingest.sources.base import TokenBatch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, sae = build(args.d_model, args.d_sae, args.layers, 5000, args.ctx, args.l0)
    n_seq = args.tokens // args.ctx
    tokens = np.random.default_rng(0).integers(1, 5000, size=(n_seq, args.ctx))
    tokens[:, 0] = 0

    def batches_from(start: int):
        for lo in range(start, n_seq, args.batch):
            t = tokens[lo : lo + args.batch]
            bos = np.zeros(t.shape, bool)
            bos[:, 0] = True
            yield TokenBatch(t, np.arange(lo, lo + len(t)), bos, np.zeros(t.shape, bool))

    def bare() -> float:
        t0 = time.perf_counter()
        for b in batches_from(0):
            h = model.run_hooks(torch.as_tensor(b.tokens), [sae.hook_name])[sae.hook_name]
            sae.encode(h.reshape(-1, args.d_model))
        return time.perf_counter() - t0

    cfg = Config(
        model=ModelConfig(source="local", path="bench"),
        saes=(SAEConfig(id="s0", source="local", path="x"),),
        dataset=DatasetConfig(source="tokens", paths=("x",), n_tokens=args.tokens, context_size=args.ctx),
        activations=ActivationsConfig(batch_size=args.batch),
    )

    def ours() -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            run_activation_pass(cfg, model, [sae], batches_from, Path(d) / "act", progress=False)
            dt = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in Path(d).rglob("*.npz"))
            from saegraph.ingest.activation_store import ActivationStore

            st = ActivationStore(Path(d) / "act")
            l0 = sum(c["nnz"]["s0"] for c in st.chunks) / st.n_tokens
        return dt, size, l0

    bare()  # warm-up
    t_bare = min(bare() for _ in range(args.repeats))
    runs = [ours() for _ in range(args.repeats)]
    t_ours = min(r[0] for r in runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"activation pass vs bare forward+encode | tokens={args.tokens} d_model={args.d_model} "
        f"d_sae={args.d_sae} layers={args.layers} | bare {t_bare:.2f}s  saegraph {t_ours:.2f}s  "
        f"overhead {100 * (t_ours / t_bare - 1):+.1f}% "
        f"| L0 {runs[0][2]:.1f} | on-disk {runs[0][1] / 1e6:.1f} MB | peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
