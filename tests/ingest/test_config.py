"""TOML config: defaults, one-line errors naming the key, validation in __post_init__."""

from __future__ import annotations

import dataclasses

import pytest

from saegraph.ingest.config import Config, ConfigError, LassoConfig, load_config

GOOD = """
[run]
name = "t"
[model]
source = "synthetic"
[dataset]
source = "synthetic"
n_tokens = 5000
[[saes]]
id = "s0"
source = "synthetic"
seed = 1
[[saes]]
id = "s1"
source = "synthetic"
seed = 2
[edges.coactivation]
fdr_q = 0.05
"""


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_good_config_resolves_defaults(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert [s.id for s in cfg.saes] == ["s0", "s1"]
    assert cfg.edges.coactivation.fdr_q == 0.05
    assert cfg.edges.coactivation.top_k == 0  # no per-node cap (docs/methods.md)
    assert cfg.edges.lasso.replicates == 30
    d = cfg.to_dict()
    assert d["edges"]["cosine"]["min_similarity"] == 0.3
    assert len(cfg.fingerprint()) == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.run.name = "x"


@pytest.mark.parametrize(
    "patch, message",
    [
        (("n_tokens = 5000", "n_tokens = 'many'"), "dataset.n_tokens must be an integer"),
        (("n_tokens = 5000", "n_tokens = 0"), "dataset.n_tokens must be > 0"),
        (("fdr_q = 0.05", "fdr_q = 2.0"), "edges.coactivation.fdr_q"),
        (("fdr_q = 0.05", "fdr = 0.05"), "unknown key(s) fdr"),
        (('id = "s0"', 'id = "s:0"'), "no ':'"),
        (('id = "s1"', 'id = "s0"'), "unique"),
        (('[model]\nsource = "synthetic"', '[model]\nsource = "transformer_lens"'), "does not fit"),
        (('[model]\nsource = "synthetic"', '[model]\nsource = "hub"'), "model.source"),
    ],
)
def test_bad_config_fails_in_one_line(tmp_path, patch, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace(*patch)))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[run\nname="))
    with pytest.raises(ConfigError, match="at least one"):
        load_config(write(tmp_path, "[run]\nname='x'\n"))


def test_validation_runs_for_python_built_configs():
    with pytest.raises(ConfigError, match="replicates"):
        LassoConfig(replicates=0)
    with pytest.raises(ConfigError, match="at least one"):
        Config(saes=())
