"""[[sae_families]]: templates and SAELens release patterns expanded into [[saes]] tables."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from saegraph.ingest.config import SAEConfig, config_from_mapping, load_config
from saegraph.ingest.config_checks import ConfigError
from saegraph.ingest.sae_families import SAEFamilyConfig, expand_families, release_sae_ids

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GEMMA = "gemma-scope-2b-pt-res-canonical"
GEMMA_PATTERN = r"layer_(?P<layer>\d+)/width_(?P<width>\w+)/canonical"
GPT2_PATTERN = r"blocks\.(?P<layer>\d+)\.hook_resid_pre"
LM = {"model": {"name": "gpt2-small"}, "dataset": {"name": "NeelNanda/c4-code-20k"}}


def local_family(**extra):
    return {"id": "l{layer}-s{seed}", "source": "local", "path": "saes/layer_{layer}/seed_{seed}", **extra}


def test_template_family_is_the_product_in_order_after_explicit_saes():
    mapping = {
        **LM,
        "saes": [{"id": "extra", "source": "local", "path": "other"}],
        "sae_families": [local_family(layers=[0, 1, 2], seeds=[7, 3], release="my-release")],
    }
    cfg = config_from_mapping(mapping)
    assert [s.id for s in cfg.saes] == ["extra", "l0-s7", "l0-s3", "l1-s7", "l1-s3", "l2-s7", "l2-s3"]
    member = cfg.saes[4]
    assert (member.path, member.seed, member.release, member.source) == (
        "saes/layer_1/seed_3",
        3,
        "my-release",
        "local",
    )
    assert cfg.saes[0].seed == -1  # explicit tables untouched
    assert "sae_families" in mapping  # the input is not modified


def test_layer_range_string_widths_and_synthetic_width():
    out = expand_families({"sae_families": [local_family(layers="0-5", seeds=[0])]})
    assert [s["id"] for s in out["saes"]] == [f"l{i}-s0" for i in range(6)]
    assert "sae_families" not in out
    out = expand_families({"sae_families": [local_family(layers="2-3, 7", seeds=[1])]})
    assert [s["id"] for s in out["saes"]] == ["l2-s1", "l3-s1", "l7-s1"]
    syn = expand_families({"sae_families": [{"id": "w{width}", "source": "synthetic", "widths": [64, 128]}]})
    assert [(s["id"], s["width"]) for s in syn["saes"]] == [("w64", 64), ("w128", 128)]
    widths = expand_families(
        {"sae_families": [{"id": "w{width}", "source": "local", "path": "p/{width}", "widths": [16384]}]}
    )
    assert widths["saes"] == [{"id": "w16384", "source": "local", "path": "p/16384"}]  # width not set


@pytest.mark.parametrize(
    "family, message",
    [
        (
            {"id": "l{layer}", "source": "local", "path": "p"},
            "id uses {layer} but the family gives no layers",
        ),
        (
            {"id": "l{layer}", "source": "local", "path": "p/{seed}", "layers": [0]},
            "path uses {seed} but the family gives no seeds: add seeds = [...]",
        ),
        (local_family(layers=[0], seeds=[0], hook="h{depth}"), "unknown placeholder {depth}"),
        (
            {"id": "sae", "source": "local", "path": "p/{layer}", "layers": [0, 1]},
            "layers is given but the id template has no {layer}",
        ),
        (local_family(layers="5-2", seeds=[0]), "runs backwards"),
        (local_family(layers="0..5", seeds=[0]), "range string"),
        (local_family(layers=[0], seeds=[0], seed=4), "give seeds (one per member) or seed, not both"),
        (local_family(layers=[], seeds=[0]), "makes no SAEs"),
        (local_family(layers=[0], seeds=[0], colour="red"), "unknown key(s) colour"),
        (
            {"id": "l{layer}", "source": "local", "sae_id_pattern": "x", "release": "r", "layers": [0]},
            'sae_id_pattern needs source = "pretrained"',
        ),
    ],
)
def test_family_errors_are_one_line_and_name_the_family(family, message):
    with pytest.raises(ConfigError) as info:
        expand_families({"sae_families": [family]})
    text = str(info.value)
    assert message in text
    assert text.startswith("sae_families[0]")
    if "unknown key" not in message:  # from_dict's check, before the id is known to be a template
        assert text.startswith(f"sae_families[0] (id = {family['id']!r})")
    assert "\n" not in text


def test_duplicate_member_ids_name_the_family():
    with pytest.raises(
        ConfigError,
        match=r"sae_families\[1\] \(id = 'l\{layer\}-s\{seed\}'\) makes saes id 'l0-s0' "
        r"already used by sae_families\[0\]",
    ):
        expand_families(
            {
                "sae_families": [
                    local_family(layers=[0], seeds=[0]),
                    local_family(layers=[0, 1], seeds=[0]),
                ]
            }
        )
    with pytest.raises(ConfigError, match="already used by an explicit"):
        expand_families(
            {
                "saes": [{"id": "l1-s0", "source": "local", "path": "p"}],
                "sae_families": [local_family(layers=[1], seeds=[0])],
            }
        )
    # a pattern whose matches the id template does not tell apart
    with pytest.raises(
        ConfigError,
        match="makes saes id 'gemma-l0' twice: .*add \\{layer\\}, \\{width\\}",
    ):
        expand_families(
            {"sae_families": [{"id": "gemma-l{layer}", "release": GEMMA, "sae_id_pattern": GEMMA_PATTERN}]}
        )


def test_pretrained_pattern_on_a_release_sae_lens_ships():
    ids = release_sae_ids("gpt2-small-res-jb")
    assert ids is not None and "blocks.11.hook_resid_post" in ids
    out = expand_families(
        {
            "sae_families": [
                {"id": "gpt2-l{layer}", "release": "gpt2-small-res-jb", "sae_id_pattern": GPT2_PATTERN}
            ]
        }
    )
    saes = out["saes"]
    assert len(saes) == 12  # blocks.11.hook_resid_post is not a full match
    assert [s["id"] for s in saes] == [f"gpt2-l{i}" for i in range(12)]  # by layer as a number
    assert saes[10] == {
        "id": "gpt2-l10",
        "release": "gpt2-small-res-jb",
        "sae_id": "blocks.10.hook_resid_pre",
    }


def test_pretrained_pattern_with_widths_and_a_layer_filter():
    family = {
        "id": "gemma-l{layer}-{width}",
        "source": "pretrained",
        "release": GEMMA,
        "sae_id_pattern": GEMMA_PATTERN,
    }
    every = expand_families({"sae_families": [family]})["saes"]
    assert len(every) == len({s["sae_id"] for s in every}) > 26
    assert every[0]["id"] == "gemma-l0-16k" and every[1]["id"] == "gemma-l0-65k"
    picked = expand_families({"sae_families": [{**family, "layers": "12"}]})["saes"]
    assert [s["id"] for s in picked][:3] == ["gemma-l12-16k", "gemma-l12-32k", "gemma-l12-65k"]
    assert picked[-1] == {
        "id": "gemma-l12-1m",
        "source": "pretrained",
        "release": GEMMA,
        "sae_id": "layer_12/width_1m/canonical",
    }
    assert all(s["sae_id"].startswith("layer_12/") for s in picked)
    wide = expand_families({"sae_families": [{**family, "layers": [5, 12], "widths": ["1m"]}]})["saes"]
    assert [s["id"] for s in wide] == ["gemma-l5-1m", "gemma-l12-1m"]


@pytest.mark.parametrize(
    "family, message",
    [
        (
            {"id": "x{layer}", "release": "gpt2-small-res-jbb", "sae_id_pattern": GPT2_PATTERN},
            "is not a SAELens pretrained release; close names: gpt2-small-res-jb",
        ),
        (
            {
                "id": "x{layer}",
                "release": "gpt2-small-res-jb",
                "sae_id_pattern": r"blocks\.(?P<layer>\d+)\.mlp",
            },
            "matches none of the 13 SAE ids of 'gpt2-small-res-jb' in full (e.g. blocks.0.hook_resid_pre, "
            "blocks.1.hook_resid_pre, blocks.2.hook_resid_pre)",
        ),
        (
            {
                "id": "x{layer}",
                "release": "gpt2-small-res-jb",
                "sae_id_pattern": GPT2_PATTERN,
                "layers": [40],
            },
            "matches 12 SAE ids of 'gpt2-small-res-jb', but none with layers = [40]",
        ),
        (
            {"id": "x{layer}{width}", "release": "gpt2-small-res-jb", "sae_id_pattern": GPT2_PATTERN},
            "id uses {width} but the family gives no widths: add widths = [...] or a (?P<width>...) group",
        ),
        (
            {"id": "x{layer}", "release": "gpt2-small-res-jb", "sae_id_pattern": GPT2_PATTERN, "sae_id": "b"},
            "give sae_id_pattern or sae_id, not both",
        ),
        (
            {"id": "x{layer}", "release": "gpt2-small-res-jb", "sae_id_pattern": "blocks.*", "layers": [1]},
            "which the pattern lacks",
        ),
        ({"id": "x", "release": "gpt2-small-res-jb", "sae_id_pattern": "blocks(("}, "not a valid regex"),
    ],
)
def test_pattern_errors(family, message):
    with pytest.raises(ConfigError) as info:
        expand_families({"sae_families": [family]})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_toml_families_load_and_the_manifest_config_reads_back(tmp_path):
    toml = r"""
[model]
name = "gpt2-small"
[dataset]
name = "NeelNanda/c4-code-20k"
[[saes]]
id = "single"
release = "gpt2-small-res-jb"
sae_id = "blocks.11.hook_resid_post"
[[sae_families]]
id = "l{layer}-s{seed}"
source = "local"
path = "saes/layer_{layer}/seed_{seed}"
layers = "0-1"
seeds = [0, 1]
[[sae_families]]
id = "gpt2-l{layer}"
release = "gpt2-small-res-jb"
sae_id_pattern = 'blocks\.(?P<layer>\d+)\.hook_resid_pre'
layers = [3, 1]
"""
    path = tmp_path / "c.toml"
    path.write_text(toml)
    cfg = load_config(path)
    assert [s.id for s in cfg.saes] == ["single", "l0-s0", "l0-s1", "l1-s0", "l1-s1", "gpt2-l1", "gpt2-l3"]
    assert cfg.saes[-1].sae_id == "blocks.3.hook_resid_pre"
    resolved = json.loads(json.dumps(cfg.to_dict()))  # as the bundle manifest stores it
    assert [s["id"] for s in resolved["saes"]] == [s.id for s in cfg.saes]
    assert [f["id"] for f in resolved["declared_sae_families"]] == ["l{layer}-s{seed}", "gpt2-l{layer}"]
    assert resolved["declared_sae_families"][0]["layers"] == "0-1"
    again = config_from_mapping(resolved)  # the record is not expanded a second time
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    plain = config_from_mapping({**LM, "saes": [{"id": "a", "release": "r", "sae_id": "b"}]})
    assert "declared_sae_families" not in plain.to_dict()  # configs without families resolve as before


def test_family_fields_cover_the_sae_fields():
    sae_fields = {f.name for f in dataclasses.fields(SAEConfig)}
    assert sae_fields <= {f.name for f in dataclasses.fields(SAEFamilyConfig)}


def test_every_example_config_loads():
    files = sorted(EXAMPLES.glob("*.toml"))
    assert EXAMPLES / "release-gpt2-small.toml" in files
    for path in files:
        load_config(path)
    cfg = load_config(EXAMPLES / "release-gpt2-small.toml")
    assert [s.sae_id for s in cfg.saes] == [f"blocks.{i}.hook_resid_pre" for i in range(12)]
    assert cfg.model.name == "gpt2-small"
