"""Partition summaries: size and the most common top tokens of member features (pure core).

Algorithm: 1. join the labels (featureId -> group) with ``features`` on featureId;
2. per group: size, and the ``top_n`` tokens occurring most often among the members'
``topTokens`` lists (each member contributes its first ``per_member`` tokens; ties by
token text); 3. groups sorted by size descending.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd


def partition_summary(
    labels: pd.DataFrame,
    column: str,
    features: pd.DataFrame | None = None,
    *,
    top_n: int = 8,
    per_member: int = 3,
    example_members: int = 5,
) -> pd.DataFrame:
    """<column>, size, topTokens (list[str]), members (first few featureIds)."""
    frame = labels[["featureId", column]]
    has_tokens = features is not None and "topTokens" in features.columns and len(features)
    if has_tokens and features is not None:
        frame = frame.merge(features[["featureId", "topTokens"]], on="featureId", how="left")
    rows = []
    for group, sub in frame.groupby(column, sort=False):
        tokens: list[str] = []
        if has_tokens:
            counter: Counter[str] = Counter()
            for toks in sub["topTokens"]:
                if toks is None or (isinstance(toks, float)):
                    continue
                counter.update(list(toks)[:per_member])
            tokens = [t for t, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]]
        rows.append(
            {
                column: group,
                "size": len(sub),
                "topTokens": tokens,
                "members": sub["featureId"].head(example_members).tolist(),
            }
        )
    out = pd.DataFrame(rows, columns=[column, "size", "topTokens", "members"])
    return out.sort_values(["size", column], ascending=[False, True]).reset_index(drop=True)
