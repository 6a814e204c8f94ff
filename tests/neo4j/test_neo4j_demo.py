"""`saegraph demo --quick --neo4j URI`: the whole demo into a real Neo4j, analysis by GDS, the same
summary as on the embedded store; only this session's ids are written, and the test deletes
exactly them (plus the demo's Dataset node when this test created it).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from click.testing import CliRunner

from saegraph.cli import cli
from saegraph.demo.pipeline import DemoSettings
from saegraph.queries import run
from tests.helpers.demo_fixtures import tiny_quick_settings
from tests.neo4j.conftest import SESSION, count_prefixed, delete_prefixed, ids

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]  # about 40 s on 2 shared cores

P = ids("demo")


def _dataset_ids(bundle) -> list[str]:
    from saegraph.ingest.bundle import open_bundle

    b = open_bundle(bundle)
    return b.frame("datasets")["datasetId"].astype(str).tolist() if b.has_table("datasets") else []


def test_demo_quick_into_neo4j(neo4j_store, tmp_path, monkeypatch):
    monkeypatch.setattr(DemoSettings, "quick_defaults", classmethod(lambda cls: tiny_quick_settings()))
    datasets_before = set(neo4j_store.run("MATCH (d:Dataset) RETURN d.datasetId AS id")["id"].astype(str))
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--quick",
            "--neo4j",
            os.environ["NEO4J_URI"],
            "--id-prefix",
            P,
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    created = [d for d in _dataset_ids(out / "bundle") if d not in datasets_before]
    try:
        assert result.exit_code == 0, result.output + repr(result.exception)
        text = result.output
        a, b = f"{P}demo-a", f"{P}demo-b"
        for phrase in (
            "saegraph demo: quick",
            "Store: neo4j (communities by gds, path by gds (Dijkstra / Yen)",
            "dead = never fired",
            f"CO_ACTIVATES communities of {a}",
            f"Example path, largest to second-largest community of {a} (gds",
            f"Degree-distribution JSD (bits, 0 = identical, 1 = disjoint), {a} vs {b}",
            "verdict:",
            "shared one-to-one",
            f"--neo4j {os.environ['NEO4J_URI']}",
        ):
            assert phrase in text, phrase
        assert "saegraph.db" not in text and not (out / "saegraph.db").exists()  # nothing embedded
        s = json.loads((out / "summary.json").read_text())
        assert s["saeIds"] == [a, b] and set(s["communities"]) == {a, b}
        assert s["examplePath"]["nodes"] and s["examplePath"]["nodes"][0] == s["examplePath"]["source"]
        assert s["shared"] and s["meanMaxCosine"]  # decoders come from the bundle
        # the store holds the GDS communities the summary reports, for this run only
        table = run(neo4j_store, "communities.summary", relType="CO_ACTIVATES", saeId=a)
        assert int(table["size"].max()) == s["communities"][a]["top"][0]["size"]
        feats = neo4j_store.features(a)
        assert len(feats) == 128 and feats["communityCoActivates"].notna().all()
        assert count_prefixed(neo4j_store, SESSION) > 0
    finally:
        delete_prefixed(neo4j_store, P)
        for d in created:
            neo4j_store.run("MATCH (n:Dataset {datasetId: $d}) DETACH DELETE n", {"d": d})
    assert count_prefixed(neo4j_store, P) == 0


def test_demo_settings_prefix_every_id():
    s = replace(tiny_quick_settings(), id_prefix=P)
    from saegraph.demo.pipeline import quick_config

    cfg = quick_config(s)
    assert s.sae_ids == (f"{P}demo-a", f"{P}demo-b")
    assert [x["id"] for x in cfg["saes"]] == list(s.sae_ids)
    assert cfg["model"]["id"].startswith(P) and cfg["run"]["name"].startswith(P)
