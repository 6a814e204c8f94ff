"""Feature cards: one feature as a researcher reads it on a feature dashboard (read path only).

Algorithm:
1. ``feature_card(store, feature_id)`` runs ``lookup.feature_card`` (density, activation
   statistics, top tokens, promoted logits, examples, write-back results) and, per
   relationship type, the strongest neighbours with the statistic that type is tested by:
   CO_ACTIVATES ``neighbors.co_activates_of_feature`` (NPMI, co-firing count, BH q-value),
   LASSO ``neighbors.lasso_of_feature`` (signed coefficient, selection stability, q-value),
   COSINE ``neighbors.top_k`` (decoder cosine), MATCHES ``universality.matches_of_feature``
   (decoder cosine, activation correlation, mutual best match).
2. ``format_card(card)`` renders it vertically, one field per line, wrapped at ``width``.
3. ``card_properties(card)`` flattens it into short strings for a graph's node panel.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import pandas as pd

from saegraph.errors import SaegraphError

EXAMPLES_SHOWN = 5

# relationship type -> (named query, extra params, [(column, label, format)])
_NEIGHBOUR_QUERIES: dict[str, tuple[str, dict, list[tuple[str, str, str]]]] = {
    "CO_ACTIVATES": (
        "neighbors.co_activates_of_feature",
        {},
        [("npmi", "npmi", "{:+.3f}"), ("count", "co-firings", "{:d}"), ("qValue", "q", "{:.1e}")],
    ),
    "LASSO": (
        "neighbors.lasso_of_feature",
        {},
        [("weight", "coef", "{:+.3f}"), ("stability", "stability", "{:.2f}"), ("qValue", "q", "{:.1e}")],
    ),
    "COSINE": ("neighbors.top_k", {"relType": "COSINE"}, [("weight", "cosine", "{:+.3f}")]),
    "MATCHES": (
        "universality.matches_of_feature",
        {},
        [("cosine", "cosine", "{:+.3f}"), ("actCorr", "act corr", "{:+.2f}"), ("mutual", "mutual", "{}")],
    ),
}


class FeatureNotFound(SaegraphError):
    """No feature with that id in the store."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _fmt(fmt: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return fmt.format(int(value) if fmt.endswith("d}") else value)
    except (TypeError, ValueError):
        return str(value)


def feature_card(store, feature_id: str, k: int = 3) -> dict:
    """Everything a card shows about ``feature_id`` (see the module docstring, step 1)."""
    from saegraph.queries.registry import run

    rows = run(store, "lookup.feature_card", featureId=feature_id)
    if rows.empty:
        sae = feature_id.partition(":")[0]
        raise FeatureNotFound(
            f"no feature {feature_id!r} in the {store.kind} store: ids are 'saeId:index'; list some with "
            f"`saegraph query lookup.features_by_sae -p saeId={sae}`"
        )
    card = {k_: _clean(v) for k_, v in rows.iloc[0].to_dict().items()}
    card["neighbours"] = {}
    for rel, (name, extra, cols) in _NEIGHBOUR_QUERIES.items():
        params = {"featureId": feature_id, **extra}
        params["k"] = k if name != "universality.matches_of_feature" else None
        params = {p: v for p, v in params.items() if v is not None}
        frame = run(store, name, **params)
        if name == "universality.matches_of_feature":
            frame = frame.head(k).rename(columns={"matchId": "neighborId"})
        card["neighbours"][rel] = [
            {
                "neighborId": r["neighborId"],
                **{c: _clean(r.get(c)) for c, _, _ in cols},
                "topTokens": [str(t) for t in (_clean(r.get("topTokens")) or [])][:4],
            }
            for r in frame.to_dict("records")
        ]
    return card


def neighbour_line(rel: str, row: dict) -> str:
    """``id  stat value, ...  'tok', 'tok'`` for one neighbour."""
    cols = _NEIGHBOUR_QUERIES[rel][2]
    stats = ", ".join(f"{label} {_fmt(fmt, row.get(col))}" for col, label, fmt in cols)
    toks = ", ".join(repr(t) for t in row.get("topTokens") or [])
    return f"{row['neighborId']:<14} {stats}" + (f"   {toks}" if toks else "")


def _pairs(names: list, values: list | None, fmt: str = "{:.2f}") -> str:
    if not names:
        return "-"
    if not values:
        return ", ".join(repr(n) for n in names)
    return ", ".join(f"{n!r} {_fmt(fmt, v)}" for n, v in zip(names, values))


def format_card(card: dict, width: int = 100, examples: int = EXAMPLES_SHOWN) -> str:
    """The card as vertical text (see the module docstring, step 2)."""
    density = card.get("density")
    lines = [
        f"Feature {card['featureId']}  (SAE {card.get('saeId')}, {card.get('hookName')} of {card.get('modelId')})",
        f"  density      {_fmt('{:.3%}', density)} of tokens ({_fmt('{:d}', card.get('nFirings'))} firings)"
        + ("  DEAD: never fired on the graph's text" if card.get("dead") else ""),
        f"  activation   mean {_fmt('{:.3f}', card.get('meanAct'))}, max {_fmt('{:.3f}', card.get('maxAct'))}"
        f"; decoder norm {_fmt('{:.3f}', card.get('decoderNorm'))}",
        f"  community    {_fmt('{:d}', card.get('communityCoActivates'))} (CO_ACTIVATES Leiden)"
        + (
            f"; component {_fmt('{:d}', card.get('componentCoActivates'))}"
            if card.get("componentCoActivates") is not None
            else ""
        ),
    ]
    wrap = textwrap.TextWrapper(
        width=width, initial_indent="", subsequent_indent=" " * 15, break_on_hyphens=False
    )
    lines.append(wrap.fill("  top tokens   " + _pairs(card.get("topTokens") or [], card.get("topTokenActs"))))
    lines.append(
        wrap.fill(
            "  promotes     " + _pairs(card.get("topLogits") or [], card.get("topLogitValues"), "{:+.2f}")
        )
    )
    lines.append("  examples (activation order, firing token in «»):")
    shown = list(card.get("topExamples") or [])[:examples]
    ex_wrap = textwrap.TextWrapper(width=width, initial_indent="    - ", subsequent_indent="      ")
    lines += [ex_wrap.fill(" ".join(str(x).split())) for x in shown] or ["    (none)"]
    lines.append("  strongest neighbours (statistic, sign; their top tokens):")
    for rel, rows in card.get("neighbours", {}).items():
        texts = [neighbour_line(rel, r) for r in rows] or ["none"]
        for n, text in enumerate(texts):
            lines.append(f"    {rel if n == 0 else '':<13} {text}")
    return "\n".join(lines)


def card_properties(card: dict, examples: int = 3) -> dict[str, str]:
    """Short strings for a node's property panel (see the module docstring, step 3)."""
    out = {
        "feature": str(card["featureId"]),
        "density": _fmt("{:.3%}", card.get("density")),
        "activation": f"mean {_fmt('{:.3f}', card.get('meanAct'))}, max {_fmt('{:.3f}', card.get('maxAct'))}",
        "topTokens": ", ".join(map(str, (card.get("topTokens") or [])[:8])),
        "promotes": ", ".join(map(str, (card.get("topLogits") or [])[:8])),
    }
    for i, ex in enumerate(list(card.get("topExamples") or [])[:examples], 1):
        out[f"example {i}"] = " ".join(str(ex).split())
    return out


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return " ".join(str(value).split())


def vertical(frame: pd.DataFrame, width: int = 100) -> str:
    """Rows as blocks of ``column : value`` lines (for rows too wide for a table); a list of
    long strings (examples) gets one line per item, floats four significant digits."""
    if frame.empty:
        return "(no rows)"
    pad = max(len(str(c)) for c in frame.columns)
    indent = " " * (pad + 3)
    blocks = []
    for n, row in enumerate(frame.to_dict("records"), 1):
        lines = [f"-[ row {n} ]" + "-" * max(0, min(width, 40) - 12)]
        for col, value in row.items():
            value = _clean(value)
            items = [_short(v) for v in value] if isinstance(value, list) else None
            if items is not None and any(len(x) > 24 for x in items):
                lines.append(f"{str(col):<{pad}} : " + (items[0] if items else ""))
                lines += [
                    textwrap.fill(x, width=width, initial_indent=indent, subsequent_indent=indent + "  ")
                    for x in items[1:]
                ]
                continue
            text = ", ".join(items) if items is not None else _short(value)
            lines.append(
                textwrap.fill(
                    f"{str(col):<{pad}} : {text}",
                    width=width,
                    subsequent_indent=indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
