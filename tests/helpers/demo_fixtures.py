"""Settings of the smallest quick demo that still exercises every step (tests only)."""

from __future__ import annotations


def tiny_quick_settings():
    from saegraph.demo.pipeline import DemoSettings

    return DemoSettings(
        quick=True,
        graph_tokens=8192,
        context_size=64,
        lasso_replicates=2,
        compare_draws=3,
        compare_permutations=20,
        threads=1,
        synthetic={
            "num_features": 128,
            "hidden_dim": 32,
            "firing_probability": 0.04,
            "n_correlated_pairs": 8,
        },
    )
