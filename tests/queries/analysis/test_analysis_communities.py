"""Communities recover planted partitions; consensus, profile, Louvain; summaries."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from saegraph.queries.analysis.communities import consensus, leiden, louvain, modularity, resolution_profile
from saegraph.queries.analysis.graph import from_edge_list
from saegraph.queries.analysis.summaries import partition_summary


def planted_sbm(sizes=(40, 30, 30, 20), p_in=0.3, p_out=0.01, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    n = len(truth)
    i, j = np.triu_indices(n, 1)
    p = np.where(truth[i] == truth[j], p_in, p_out)
    keep = rng.random(len(i)) < p
    edges = np.stack([i[keep], j[keep]], axis=1)
    weights = rng.uniform(0.3, 1.0, len(edges))
    return from_edge_list(n, edges, weights), truth


@pytest.mark.parametrize("seed", [0, 1])
def test_leiden_modularity_and_louvain_recover_planted_partition(seed):
    fg, truth = planted_sbm(seed=seed)
    for labels in (leiden(fg, objective="modularity", seed=seed), louvain(fg, seed=seed)):
        assert adjusted_mutual_info_score(truth, labels) > 0.9
    assert modularity(fg, truth) > 0.5


def test_leiden_cpm_needs_explicit_resolution_and_recovers_partition():
    fg, truth = planted_sbm(seed=2)
    # CPM: resolution is a density threshold between p_out and p_in (unweighted)
    labels = leiden(fg, objective="cpm", resolution=0.1, weighted=False, seed=0)
    assert adjusted_mutual_info_score(truth, labels) > 0.9
    # a CPM resolution above every density splits into (near) singletons: objective really is CPM
    assert len(set(leiden(fg, objective="cpm", resolution=2.0, weighted=False))) > 100
    with pytest.raises(ValueError, match="objective"):
        leiden(fg, objective="infomap")


def test_resolution_profile_monotone_in_count():
    fg, _ = planted_sbm(seed=3)
    prof = resolution_profile(fg, [0.1, 1.0, 5.0, 20.0])
    assert list(prof.columns) == ["resolution", "nCommunities", "largest", "quality", "modularity"]
    assert prof["nCommunities"].iloc[0] <= prof["nCommunities"].iloc[1] <= prof["nCommunities"].iloc[-1]
    assert prof["modularity"].iloc[1] == prof["modularity"].max()


def test_consensus_is_stable_on_easy_graph():
    fg, truth = planted_sbm(seed=4)
    res = consensus(fg, n_seeds=5, seed=0)
    assert res.agreed and res.stability_ari > 0.9
    assert adjusted_mutual_info_score(truth, res.labels) > 0.9
    # a graph with no structure does not agree at once but the consensus terminates
    rng = np.random.default_rng(0)
    noise = from_edge_list(60, rng.integers(0, 60, size=(150, 2)))
    res = consensus(noise, n_seeds=4, seed=0, max_rounds=4)
    assert res.rounds <= 4 and 0 <= res.stability_ari <= 1


def test_partition_summary_sizes_and_top_tokens():
    labels = pd.DataFrame({"featureId": ["s:0", "s:1", "s:2", "s:3"], "community": [0, 0, 1, 0]})
    feats = pd.DataFrame(
        {"featureId": ["s:0", "s:1", "s:2", "s:3"], "topTokens": [["the", "a"], ["the", "an"], ["def"], None]}
    )
    out = partition_summary(labels, "community", feats, top_n=2)
    assert out["size"].tolist() == [3, 1]
    assert out.loc[0, "topTokens"] == ["the", "a"]
    assert out.loc[1, "topTokens"] == ["def"]
