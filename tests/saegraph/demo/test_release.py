"""The demo's release: its plan, the strongest flow path (against brute force), the hook cache."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from saegraph.demo.release import best_chain, main_chain, release_plan
from saegraph.demo.settings import DemoSettings
from saegraph.demo.train_saes import cached_hook_activations, collect_hook_activations


def test_release_plan_is_in_layer_order_with_seed_and_width_on_the_focus_layer():
    members = release_plan(DemoSettings())
    assert [(m.sae_id, m.layer, m.width, m.seed) for m in members] == [
        ("demo-l0", 0, 1536, 0),
        ("demo-l1", 1, 1536, 0),
        ("demo-l2", 2, 1536, 0),
        ("demo-a", 3, 1536, 0),
        ("demo-b", 3, 1536, 1),
        ("demo-narrow", 3, 768, 0),
        ("demo-l4", 4, 1536, 0),
        ("demo-l5", 5, 1536, 0),
    ]
    assert members[3].hook == "blocks.3.hook_resid_post"
    assert main_chain(members, "demo-a") == ["demo-l0", "demo-l1", "demo-l2", "demo-a", "demo-l4", "demo-l5"]
    one = release_plan(DemoSettings(layers=(2,), focus_layer=2, narrow_width=0, id_prefix="u1-"))
    assert [m.sae_id for m in one] == ["u1-demo-a", "u1-demo-b"]


def _flows(rng, chain, n_feat, k):
    rows = []
    for src, dst in zip(chain[:-1], chain[1:]):
        for i in range(n_feat):
            for j in rng.choice(n_feat, size=k, replace=False):
                rows.append(
                    {
                        "source": f"{src}:{i}",
                        "target": f"{dst}:{j}",
                        "sourceSae": src,
                        "targetSae": dst,
                        "cosine": float(rng.uniform(0.3, 1.0)),
                        "pTargetGivenSource": float(rng.uniform()),
                    }
                )
    return pd.DataFrame(rows)


def _brute_force(flows, chain):
    """Every path through the chain, scored (min cosine, sum cosine)."""
    hops = [flows[(flows.sourceSae == a) & (flows.targetSae == b)] for a, b in zip(chain[:-1], chain[1:])]
    best = None
    for combo in itertools.product(*[h.itertuples(index=False) for h in hops]):
        if any(x.target != y.source for x, y in zip(combo[:-1], combo[1:])):
            continue
        cos = [c.cosine for c in combo]
        score = (min(cos), sum(cos))
        if best is None or score > best[0]:
            best = (score, [combo[0].source, *[c.target for c in combo]])
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_chain_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    chain = ["l0", "l1", "l2", "l3"]
    flows = _flows(rng, chain, n_feat=5, k=2)
    path, hops = best_chain(flows, chain)
    score, expected = _brute_force(flows, chain)
    assert path == expected
    assert min(h["cosine"] for h in hops) == pytest.approx(score[0])
    assert sum(h["cosine"] for h in hops) == pytest.approx(score[1])


def test_best_chain_none_when_the_chain_breaks():
    flows = pd.DataFrame(
        {
            "source": ["a:0"],
            "target": ["b:0"],
            "sourceSae": ["a"],
            "targetSae": ["b"],
            "cosine": [0.9],
            "pTargetGivenSource": [0.5],
        }
    )
    assert best_chain(flows, ["a", "b", "c"]) is None
    assert best_chain(flows, ["a", "b"])[0] == ["a:0", "b:0"]


class _Batch:
    def __init__(self, tokens, bos):
        self.tokens = tokens
        self.is_bos = bos
        self.is_pad = np.zeros_like(bos)


class _Model:
    """Hook h_i returns tokens * (i + 1) as a 2-dim activation; counts forward passes."""

    def __init__(self):
        self.calls = []

    def run_hooks(self, tokens, hooks):
        import torch

        self.calls.append(list(hooks))
        t = torch.as_tensor(tokens, dtype=torch.float32)[..., None]
        return {h: torch.cat([t, t], -1) * (int(h[-1]) + 1) for h in hooks}


def test_every_hook_in_one_pass_and_only_missing_hooks_collected(tmp_path):
    tokens = np.arange(12).reshape(3, 4)
    bos = np.zeros((3, 4), dtype=bool)
    bos[:, 0] = True
    batches = [_Batch(tokens[i : i + 1], bos[i : i + 1]) for i in range(3)]
    model = _Model()
    out = collect_hook_activations(model, batches, ["h0", "h1"], max_tokens=100, progress=False)
    assert len(model.calls) == 3 and all(c == ["h0", "h1"] for c in model.calls)  # one forward per batch
    real = tokens[~bos].astype(np.float32)
    np.testing.assert_array_equal(out["h0"][:, 0], real)
    np.testing.assert_array_equal(out["h1"][:, 0], 2 * real)
    keys = {"h0": "k0", "h1": "k1"}
    asked = []

    def compute(missing):
        asked.append(list(missing))
        return {h: out[h] for h in missing}

    first = cached_hook_activations(tmp_path, {"h0": "k0"}, compute)
    both = cached_hook_activations(tmp_path, keys, compute)
    assert asked == [["h0"], ["h1"]]  # the cached hook is not collected again
    np.testing.assert_array_equal(first["h0"], both["h0"])
    np.testing.assert_array_equal(both["h1"], out["h1"])
