"""`saegraph ingest` end to end on the synthetic source, through the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.ingest.bundle import EDGE_TABLES, NODE_TABLES, open_bundle

TINY = """
[run]
name = "syn-tiny"
[model]
source = "synthetic"
[synthetic]
num_features = 64
hidden_dim = 32
n_correlated_pairs = 8
hierarchy_branching = 2
[dataset]
source = "synthetic"
n_tokens = 12000
context_size = 64
[activations]
chunk_tokens = 4000
[[saes]]
id = "a"
source = "synthetic"
synthetic_mode = "truth"
seed = 1
[[saes]]
id = "b"
source = "synthetic"
synthetic_mode = "truth"
seed = 2
[edges.lasso]
replicates = 4
min_firings = 10
"""


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("ingest")
    cfg = d / "tiny.toml"
    cfg.write_text(TINY)
    result = CliRunner().invoke(cli, ["ingest", str(cfg), "-o", str(d / "bundle"), "--quiet"])
    assert result.exit_code == 0, result.output
    return d / "bundle"


def test_synthetic_bundle_is_complete(tiny_bundle):
    b = open_bundle(tiny_bundle)
    for name in (*NODE_TABLES, *EDGE_TABLES):
        assert b.has_table(name), name
    feats = b.frame("features")
    assert len(feats) == 128 and set(feats["saeId"]) == {"a", "b"}
    assert feats["nFirings"].sum() > 0
    assert (b.ground_truth_path / "true_activations" / "index.json").exists()
    assert b.activations.n_chunks >= 3
    assert b.manifest["config"]["run"]["name"] == "syn-tiny"
    assert b.frame("models")["modelId"].tolist() == ["synthetic"]
    assert {"activations", "features", "coactivation", "cosine", "matches", "lasso"} <= set(b.stats)


def test_bundle_holds_each_sae_encoder_and_excludes_use_it(tiny_bundle):
    b = open_bundle(tiny_bundle)
    for sid in ("a", "b"):
        enc = b.encoder(sid)
        assert enc is not None and enc["rule"] == "jumprelu"  # the synthetic truth SAE
        assert enc["w_enc"].shape == b.decoder(sid).shape and enc["threshold"].shape == (64,)
        st = b.stats["coactivation"]["perSae"][sid]["excludes"]["encoderNull"]
        assert st["applied"] is True and st["rule"] == "jumprelu"


def test_inspect_prints_counts(tiny_bundle):
    result = CliRunner().invoke(cli, ["inspect", str(tiny_bundle)])
    assert result.exit_code == 0, result.output
    assert "features" in result.output and "128 rows" in result.output


def test_bad_config_fails_in_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(TINY.replace("n_tokens = 12000", "n_tokens = -3"))
    result = CliRunner().invoke(cli, ["ingest", str(cfg), "-o", str(tmp_path / "b")])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "dataset.n_tokens must be > 0" in lines[0]
    assert not (tmp_path / "b").exists()


def test_existing_bundle_is_not_overwritten(tiny_bundle, tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    result = CliRunner().invoke(cli, ["ingest", str(cfg), "-o", str(tiny_bundle)])
    assert result.exit_code != 0 and "already a finished bundle" in result.output
    open_bundle(tiny_bundle)  # untouched


def test_ingest_from_a_tiny_local_model(
    tmp_path, tiny_model_dir, tiny_sae_dir, tiny_mlp_sae_dir, tiny_text_dir
):
    """A saved TransformerLens model, two saved SAELens SAEs on different hooks, local text."""
    cfg = tmp_path / "local.toml"
    cfg.write_text(f"""
[run]
name = "tiny-local"
[model]
source = "local"
name = "tiny"
path = "{tiny_model_dir}"
[dataset]
source = "text"
paths = ["{tiny_text_dir}/*.txt"]
n_tokens = 400
context_size = 16
[activations]
chunk_tokens = 96
batch_size = 4
[[saes]]
id = "resid"
source = "local"
path = "{tiny_sae_dir}"
[[saes]]
id = "mlp"
source = "local"
path = "{tiny_mlp_sae_dir}"
[edges.lasso]
enabled = false
""")
    result = CliRunner().invoke(cli, ["ingest", str(cfg), "-o", str(tmp_path / "b"), "--quiet"])
    assert result.exit_code == 0, result.output
    b = open_bundle(tmp_path / "b")
    saes = b.frame("saes").set_index("saeId")
    assert saes.loc["resid", "hookName"] == "blocks.1.hook_resid_post" and saes.loc["mlp", "dSae"] == 256
    assert b.activations.n_chunks > 1 and b.manifest["dataset"]["nTokens"] == b.activations.n_tokens
    feats = b.frame("features").set_index("featureId")
    live = feats[~feats["dead"]]
    assert len(live) > 0
    ex = live["topExamples"].iloc[0]
    assert len(ex) > 0 and "«" in ex[0]  # decoded context, firing token marked
    # logit effects exist for the residual-stream SAE, and are skipped for the MLP-neuron SAE
    assert all(len(x) > 0 for x in feats.loc[feats["saeId"] == "resid", "topLogits"])
    assert all(len(x) == 0 for x in feats.loc[feats["saeId"] == "mlp", "topLogits"])
    assert b.stats["features"]["mlp"]["logits"].startswith("skipped")
    assert {"co_activates", "cosine", "matches"} <= set(b.tables) and "lasso" not in b.tables
