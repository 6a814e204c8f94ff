"""Tokens/s of saegraph's activation pass on whatever device is present, against a bare loop.

Opt-in (``tests/benchmarks`` is not collected by pytest). Run from the repository root:

    python tests/benchmarks/bench_gpu_activations.py [--tokens 524288] [--d-sae 24576] [--out FILE]

What runs, per row (one process, the same tokens and weights on both sides):
1. The model: a GPT-2-small-shaped transformer (12 layers, d_model 768, 12 heads, d_mlp 3072,
   vocabulary 50257, context 128) in plain torch with random weights. It exposes the two calls
   saegraph's ``LoadedModel`` uses from TransformerLens (``hook_dict`` and
   ``run_with_cache(names_filter=..., stop_at_layer=...)``), so the pass runs its real path; plain
   torch because TransformerLens' and SAELens' import chains (wandb, boto3, datasets, ...) are
   too heavy to carry onto a bare GPU machine. The SAE reads ``blocks.8.hook_resid_post``.
2. The SAE: SAELens' ``StandardSAE`` when ``sae_lens`` imports, else a plain torch ReLU SAE
   with the same encoder (``relu((x - b_dec) @ W_enc + b_enc)``); random weights with ``b_enc``
   calibrated on one batch so that about ``--l0`` latents fire per token, like a trained SAE.
3. "saegraph": ``run_activation_pass`` (groups of source batches, BOS mask, NaN guard,
   selection of the firing entries on the device, CSR chunks written to disk) with
   ``forward_batch_size = "auto"`` (or ``--forward-batch``) and the row's dtypes.
4. "bare": the loop a researcher writes: ``run_with_cache`` with the hook and ``stop_at_layer``,
   ``sae.encode``, one count of firing entries on the device; same forward batch, nothing kept.
5. "oom": a 131,072-latent SAE with a forward batch asked too large for the GPU, to show the
   out-of-memory halving (rows on a CUDA device only).
Each side runs once on a small warm-up first. Times include a final synchronize.

Without an installed ``saegraph`` (a bare GPU machine: ``PYTHONPATH=$PWD``), the script maps
``saegraph.ingest`` onto ``ingest/`` itself with importlib (``_map_namespace``), as setup.py's
``package_dir`` does for an install.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
HOOK_LAYER = 8
HOOK = f"blocks.{HOOK_LAYER}.hook_resid_post"
CTX = 128
BOS = 50256


def _map_namespace() -> None:
    """Make ``saegraph.ingest`` importable from the checkout when saegraph is not installed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        import saegraph.ingest

        return
    except ImportError:
        pass
    import saegraph

    for name in ("ingest",):
        spec = importlib.util.spec_from_file_location(
            f"saegraph.{name}", ROOT / name / "__init__.py", submodule_search_locations=[str(ROOT / name)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        setattr(saegraph, name, module)


# --------------------------------------------------------------------------- model


class Block(nn.Module):
    def __init__(self, d: int, heads: int, d_mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, d_mlp), nn.Linear(d_mlp, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class TinyGPT(nn.Module):
    """GPT-2-small shapes; TransformerLens' ``hook_dict`` / ``run_with_cache`` for resid_post hooks."""

    def __init__(self, n_layers=12, d=768, heads=12, d_mlp=3072, vocab=50257, n_ctx=1024) -> None:
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Embedding(n_ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads, d_mlp) for _ in range(n_layers))
        self.hook_dict = {f"blocks.{i}.hook_resid_post": None for i in range(n_layers)}

    def run_with_cache(self, tokens, names_filter=None, stop_at_layer=None):
        names = set(self.hook_dict) if names_filter is None else set(names_filter)
        x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        cache = {}
        for i, block in enumerate(self.blocks[:stop_at_layer]):
            x = block(x)
            if f"blocks.{i}.hook_resid_post" in names:
                cache[f"blocks.{i}.hook_resid_post"] = x
        return None, cache


class TorchSAE(nn.Module):
    """A standard ReLU SAE (SAELens' StandardSAE encoder) for machines without sae_lens."""

    def __init__(self, d_in: int, d_sae: int) -> None:
        super().__init__()
        self.W_enc = nn.Parameter(torch.randn(d_in, d_sae) / math.sqrt(d_in))
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.W_dec = nn.Parameter(torch.randn(d_sae, d_in) / math.sqrt(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.W_enc.dtype)
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)


def make_sae(d_in: int, d_sae: int, device: str) -> tuple[nn.Module, str]:
    try:
        from sae_lens import StandardSAE, StandardSAEConfig

        sae = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, dtype="float32", device=device))
        with torch.no_grad():
            sae.W_enc.copy_(torch.randn(d_in, d_sae, device=device) / math.sqrt(d_in))
        return sae, "sae_lens StandardSAE"
    except ImportError:
        return TorchSAE(d_in, d_sae).to(device), "plain torch ReLU SAE (sae_lens not importable)"


def calibrate(model, sae, tokens: np.ndarray, l0: float, device: str) -> None:
    """Set b_enc so that about ``l0`` latents per token exceed 0 on one batch."""
    with torch.no_grad():
        _, cache = model.run_with_cache(torch.as_tensor(tokens, device=device), [HOOK], HOOK_LAYER + 1)
        x = cache[HOOK].reshape(-1, cache[HOOK].shape[-1]).float()
        pre = (x - sae.b_dec) @ sae.W_enc
        q = torch.quantile(pre[:2048].float(), 1 - l0 / pre.shape[1], dim=0)
        sae.b_enc.copy_(-q)


# --------------------------------------------------------------------------- the two sides


def batches(tokens: np.ndarray, batch: int):
    from saegraph.ingest.sources.base import TokenBatch

    def batches_from(start: int):
        for lo in range(start, len(tokens), batch):
            t = tokens[lo : lo + batch]
            is_bos = np.zeros(t.shape, dtype=bool)
            is_bos[:, 0] = True
            yield TokenBatch(
                t, np.arange(lo, lo + len(t), dtype=np.int64), is_bos, np.zeros(t.shape, dtype=bool)
            )

    return batches_from


def config(n_tokens: int, forward_batch, sae_dtype: str):
    from saegraph.ingest.config import ActivationsConfig, Config, DatasetConfig, ModelConfig, SAEConfig

    return Config(
        model=ModelConfig(source="local", path="bench"),
        saes=(SAEConfig(id="sae", source="local", path="bench"),),
        dataset=DatasetConfig(source="tokens", paths=("bench",), n_tokens=n_tokens, context_size=CTX),
        activations=ActivationsConfig(forward_batch_size=forward_batch, sae_dtype=sae_dtype),
    )


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_saegraph(model, sae, tokens, device, forward_batch, sae_dtype, workdir: Path):
    from saegraph.ingest.activations import run_activation_pass
    from saegraph.ingest.sources.base import LoadedModel, LoadedSAE

    lm = LoadedModel(
        "bench", "bench", "local", 12, 768, 3072, 50257, 0, None, BOS, None, backend=model, device=device
    )
    ls = LoadedSAE(
        "sae", "local", "bench", "bench", HOOK, HOOK_LAYER, 768, int(sae.W_enc.shape[1]), "standard", 0, sae
    )
    cfg = config(tokens.size, forward_batch, sae_dtype)
    out = Path(tempfile.mkdtemp(dir=workdir))
    sync(device)
    t0 = time.perf_counter()
    stats = run_activation_pass(
        cfg, lm, [ls], batches(tokens, cfg.activations.batch_size), out, progress=False
    )
    sync(device)
    return time.perf_counter() - t0, stats


def run_bare(model, sae, tokens, device, forward_batch: int, sae_dtype: str):
    enc = (
        sae
        if sae_dtype == "float32"
        else __import__("copy").deepcopy(sae).to(dtype=getattr(torch, sae_dtype))
    )
    fired = 0
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(tokens), forward_batch):
            t = torch.as_tensor(tokens[lo : lo + forward_batch], device=device)
            _, cache = model.run_with_cache(t, names_filter=[HOOK], stop_at_layer=HOOK_LAYER + 1)
            x = cache[HOOK][:, 1:].reshape(-1, 768)  # BOS dropped, as in the pass
            fired += int((enc.encode(x.to(enc.W_enc.dtype)) > 0).sum())
    sync(device)
    return time.perf_counter() - t0, fired


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=524_288)
    ap.add_argument("--d-sae", type=int, default=24_576)
    ap.add_argument("--l0", type=float, default=64)
    ap.add_argument("--forward-batch", default="auto", help='"auto" or sequences per forward')
    ap.add_argument(
        "--oom-tokens", type=int, default=524_288, help="tokens of the out-of-memory row (0: skip)"
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    _map_namespace()
    from saegraph.ingest.config import resolve_device

    logging.basicConfig(level=logging.INFO, format="  log: %(message)s")
    device = resolve_device("auto")
    name = torch.cuda.get_device_name(0) if device == "cuda" else device
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_seq = max(1, args.tokens // CTX)
    tokens = rng.integers(0, 50256, size=(n_seq, CTX), dtype=np.int64)
    tokens[:, 0] = BOS
    forward_batch = args.forward_batch if args.forward_batch == "auto" else int(args.forward_batch)

    model32 = TinyGPT().to(device).eval()
    sae, sae_kind = make_sae(768, args.d_sae, device)
    sae.eval()
    calibrate(model32, sae, tokens[:64], args.l0, device)
    model16 = TinyGPT().to(device).eval()
    model16.load_state_dict(model32.state_dict())
    model16.to(torch.bfloat16)
    print(
        f"device: {name}; torch {torch.__version__}; model: plain-torch GPT-2-small shapes; SAE: {sae_kind}"
    )
    print(f"tokens per row: {tokens.size:,} ({n_seq} sequences x {CTX}); hook {HOOK}; d_sae {args.d_sae}")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, model, mdt, sdt in (
            ("fp32", model32, "float32", "float32"),
            ("bf16", model16, "bfloat16", "bfloat16"),
        ):
            run_saegraph(model, sae, tokens[:64], device, forward_batch, sdt, work)  # warm-up
            secs, stats = run_saegraph(model, sae, tokens, device, forward_batch, sdt, work)
            fb = stats.forward_batch_size
            run_bare(model, sae, tokens[:64], device, fb, sdt)  # warm-up
            bare_secs, fired = run_bare(model, sae, tokens, device, fb, sdt)
            l0 = fired / (tokens.size - n_seq)
            rows.append(
                {
                    "row": label,
                    "model_dtype": mdt,
                    "sae_dtype": sdt,
                    "d_sae": args.d_sae,
                    "tokens": int(tokens.size),
                    "forward_batch": fb,
                    "oom_backoffs": stats.oom_backoffs,
                    "saegraph_tok_s": tokens.size / secs,
                    "bare_tok_s": tokens.size / bare_secs,
                    "ratio": bare_secs / secs,
                    "l0": round(l0, 1),
                    "split_s": {
                        k: round(getattr(stats, k), 2)
                        for k in ("seconds_model", "seconds_encode", "seconds_sparsify", "seconds_write")
                    },
                }
            )
        if device == "cuda" and args.oom_tokens:
            big, _ = make_sae(768, 131_072, device)
            big.eval()
            calibrate(model16, big, tokens[:64], args.l0, device)
            oom_tokens = tokens[: max(1, args.oom_tokens // CTX)]
            secs, stats = run_saegraph(model16, big, oom_tokens, device, len(oom_tokens), "bfloat16", work)
            rows.append(
                {
                    "row": "oom",
                    "model_dtype": "bfloat16",
                    "sae_dtype": "bfloat16",
                    "d_sae": 131_072,
                    "tokens": int(oom_tokens.size),
                    "forward_batch": stats.forward_batch_size,
                    "asked": len(oom_tokens),
                    "oom_backoffs": stats.oom_backoffs,
                    "saegraph_tok_s": oom_tokens.size / secs,
                    "bare_tok_s": float("nan"),
                    "ratio": float("nan"),
                    "l0": float("nan"),
                    "split_s": {},
                }
            )

    print()
    print(
        f"{'row':<5} {'model':<9} {'sae':<9} {'d_sae':>7} {'tokens':>9} {'fwd batch':>9} {'OOM halvings':>12} "
        f"{'saegraph tok/s':>15} {'bare tok/s':>12} {'ratio':>6} {'L0':>6}"
    )
    for r in rows:
        print(
            f"{r['row']:<5} {r['model_dtype']:<9} {r['sae_dtype']:<9} {r['d_sae']:>7} {r['tokens']:>9,} "
            f"{r['forward_batch']:>9} {r['oom_backoffs']:>12} {r['saegraph_tok_s']:>15,.0f} "
            f"{r['bare_tok_s']:>12,.0f} {r['ratio']:>6.2f} {r['l0']:>6}"
        )
    for r in rows:
        if r["split_s"]:
            print(f"  {r['row']} saegraph split (s): {r['split_s']}")
    print(
        "ratio = bare seconds / saegraph seconds (1.0: no overhead); fwd batch = sequences per forward chosen"
    )
    if args.out:
        args.out.write_text(
            json.dumps({"device": name, "torch": torch.__version__, "sae": sae_kind, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
