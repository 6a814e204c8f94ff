"""Per-feature metadata from the stored sparse activations.

Algorithm (one streaming pass over the chunks of one SAE; reference: the feature
dashboards of Bricken et al. 2023, "Towards Monosemanticity"):
1. Per chunk, accumulate firing counts, activation sums and maxima per latent, and the
   (latent, token id) activation sums and counts as a sparse [F, V] matrix.
2. Keep the exact top-(k x ``CANDIDATE_FACTOR``) activating (value, global token index) per
   latent by merging the chunk's candidates with the running top list (``merge_top_k``: one
   lexsort per chunk).
3. After the pass: density = firings / kept tokens; mean act over firings; top tokens by
   mean activation over at least two firings (one if none qualify). Top examples are
   distinct contexts (``distinct_examples``): candidates in activation order, skipping one
   whose window of ``context_window`` tokens either side (inside its sequence) has the same
   token ids as an earlier one, or that lies within ``context_window`` tokens of an earlier
   kept or repeated one in the same sequence; then each is decoded by the tokenizer's own detokenizer
   (``marked_contexts``: left, left + token, left + token + right decoded in one batch, the
   firing token's text being the difference), the firing token in «guillemets».
4. Logit effects: decoder rows through W_U in row blocks, centred over the vocabulary,
   top-n promoted tokens; skipped (empty lists, with a note in the stats) when the hook
   is not in the residual/MLP-out space or the model has no unembedding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from saegraph.ingest.activation_store import ActivationStore

LOGIT_BLOCK_ROWS = 1024
CANDIDATE_FACTOR = 4
"""Top-activation candidates kept per example slot, so that near-duplicates can be skipped."""
MARK_OPEN, MARK_CLOSE = "«", "»"


def merge_top_k(
    cols: np.ndarray, vals: np.ndarray, idx: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep, per column id, the k entries with the largest values (ties: smaller idx first)."""
    if cols.size == 0 or k == 0:
        return cols[:0], vals[:0], idx[:0]
    order = np.lexsort((idx, -vals, cols))
    c = cols[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, c.size]))
    rank = np.arange(c.size) - group_start
    keep = order[rank < k]
    return cols[keep], vals[keep], idx[keep]


@dataclass
class FeatureAccumulator:
    """Running statistics of one SAE's latents over chunks."""

    n_features: int
    n_vocab: int
    top_k: int

    def __post_init__(self) -> None:
        f = self.n_features
        self.n_firings = np.zeros(f, dtype=np.int64)
        self.sum_act = np.zeros(f, dtype=np.float64)
        self.max_act = np.zeros(f, dtype=np.float32)
        self.token_sum = sp.csr_matrix((f, self.n_vocab), dtype=np.float64)
        self.token_count = sp.csr_matrix((f, self.n_vocab), dtype=np.int64)
        self.top_cols = np.zeros(0, dtype=np.int64)
        self.top_vals = np.zeros(0, dtype=np.float32)
        self.top_idx = np.zeros(0, dtype=np.int64)
        self.n_tokens = 0

    def add(self, acts: sp.csr_matrix, token_ids: np.ndarray, offset: int) -> None:
        """Add one chunk; ``offset`` is the global index of its first token."""
        coo = acts.tocoo()
        cols = coo.col.astype(np.int64)
        vals = coo.data.astype(np.float32)
        self.n_firings += np.bincount(cols, minlength=self.n_features)
        self.sum_act += np.bincount(cols, weights=vals, minlength=self.n_features)
        if vals.size:
            np.maximum.at(self.max_act, cols, vals)
        toks = token_ids[coo.row].astype(np.int64)
        shape = (self.n_features, self.n_vocab)
        self.token_sum = self.token_sum + sp.csr_matrix((vals.astype(np.float64), (cols, toks)), shape=shape)
        self.token_count = self.token_count + sp.csr_matrix((np.ones_like(cols), (cols, toks)), shape=shape)
        self.top_cols, self.top_vals, self.top_idx = merge_top_k(
            np.concatenate([self.top_cols, cols]),
            np.concatenate([self.top_vals, vals]),
            np.concatenate([self.top_idx, coo.row.astype(np.int64) + offset]),
            self.top_k,
        )
        self.n_tokens += acts.shape[0]


def top_tokens(acc: FeatureAccumulator, n: int) -> tuple[list[list[int]], list[list[float]]]:
    """Per latent: token ids with the highest mean activation (>= 2 firings when possible)."""
    sums, counts = acc.token_sum.tocsr(), acc.token_count.tocsr()
    sums.sort_indices()
    counts.sort_indices()
    ids_out: list[list[int]] = []
    acts_out: list[list[float]] = []
    for f in range(acc.n_features):
        lo, hi = sums.indptr[f], sums.indptr[f + 1]
        if lo == hi or n == 0:
            ids_out.append([])
            acts_out.append([])
            continue
        toks = sums.indices[lo:hi]
        mean = sums.data[lo:hi] / counts.data[lo:hi]
        ok = counts.data[lo:hi] >= 2
        if not ok.any():
            ok[:] = True
        toks, mean = toks[ok], mean[ok]
        order = np.lexsort((toks, -mean))[:n]
        ids_out.append(toks[order].tolist())
        acts_out.append(mean[order].astype(float).tolist())
    return ids_out, acts_out


def logit_effects(
    w_dec: np.ndarray, w_u: np.ndarray | None, n: int
) -> tuple[list[list[int]], list[list[float]]]:
    """Top-n promoted vocabulary ids per decoder row (W_dec @ W_U, centred over the vocab)."""
    f = w_dec.shape[0]
    if w_u is None or n == 0:
        return [[] for _ in range(f)], [[] for _ in range(f)]
    w_u = np.asarray(w_u, dtype=np.float32)
    n = min(n, w_u.shape[1])
    ids, vals = [], []
    for lo in range(0, f, LOGIT_BLOCK_ROWS):
        block = w_dec[lo : lo + LOGIT_BLOCK_ROWS].astype(np.float32) @ w_u
        block -= block.mean(axis=1, keepdims=True)
        part = np.argpartition(-block, n - 1, axis=1)[:, :n]
        pv = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-pv, axis=1, kind="stable")
        ids.extend(np.take_along_axis(part, order, axis=1).tolist())
        vals.extend(np.take_along_axis(pv, order, axis=1).astype(float).tolist())
    return ids, vals


def context_span(g: int, token_ids: np.ndarray, sequence_ids: np.ndarray, window: int):
    """(left ids, token id, right ids) of global index ``g``, inside its own sequence."""
    n = token_ids.shape[0]
    lo, hi = max(0, g - window), min(n, g + window + 1)
    same = sequence_ids[lo:hi] == sequence_ids[g]
    ids = token_ids[lo:hi]
    pos = np.arange(lo, hi)
    left = ids[(pos < g) & same].tolist()
    right = ids[(pos > g) & same].tolist()
    return left, int(token_ids[g]), right


def distinct_examples(
    cols: np.ndarray,
    vals: np.ndarray,
    idx: np.ndarray,
    token_ids: np.ndarray,
    sequence_ids: np.ndarray,
    window: int,
    k: int,
) -> np.ndarray:
    """Positions (into cols/vals/idx, sorted by column then activation) of at most k distinct
    contexts per column: see step 3 of the module docstring."""
    keep: list[int] = []
    i, n = 0, cols.size
    while i < n:
        j = i
        while j < n and cols[j] == cols[i]:
            j += 1
        seen: set[tuple] = set()
        covered: list[tuple[int, int]] = []  # (sequence, global index) of kept and repeated contexts
        n_kept = 0
        for p in range(i, j):
            if n_kept >= k:
                break
            g = int(idx[p])
            seq = int(sequence_ids[g])
            if any(s == seq and abs(g - h) <= window for s, h in covered):
                continue
            left, tok, right = context_span(g, token_ids, sequence_ids, window)
            key = (tuple(left), tok, tuple(right))
            covered.append((seq, g))  # a repeat's neighbourhood repeats a kept one's too
            if key in seen:
                continue
            seen.add(key)
            keep.append(p)
            n_kept += 1
        i = j
    return np.asarray(keep, dtype=np.int64)


def marked_contexts(
    spans: Sequence[tuple[list[int], int, list[int]]],
    decode_texts: Callable[[Sequence[Sequence[int]]], list[str]],
    vocab: Callable[[int], str],
) -> list[str]:
    """Each (left, token, right) as readable text with the token in «»: the tokenizer decodes
    left, left + token and the whole span (one batch); the token's text is what it adds."""
    if not spans:
        return []
    batch: list[list[int]] = []
    for left, tok, right in spans:
        batch += [left, [*left, tok], [*left, tok, *right]]
    texts = decode_texts(batch)
    out = []
    for n, (_, tok, right) in enumerate(spans):
        a, b, c = texts[3 * n : 3 * n + 3]
        if b.startswith(a) and c.startswith(b) and b[len(a) :].strip():
            piece, rest = b[len(a) :], c[len(b) :]
        else:  # a detokenizer that rewrites earlier text (or a special token): decode the parts alone
            piece = vocab(tok)
            rest_text = decode_texts([right])[0] if right else ""
            a, rest = a.rstrip() + " ", (" " + rest_text) if rest_text else ""
        if a.startswith("##"):  # WordPiece: the window starts inside a word
            a = "…" + a[2:]
        lead = piece[: len(piece) - len(piece.lstrip())]
        out.append(f"{a}{lead}{MARK_OPEN}{piece.strip()}{MARK_CLOSE}{rest}".strip())
    return out


def build_vocab(decode: Callable[[Sequence[int]], list[str]], ids: np.ndarray) -> Callable[[int], str]:
    """Decode each distinct id once; return a lookup."""
    uniq = np.unique(ids).tolist()
    table = dict(zip(uniq, decode(uniq), strict=True)) if uniq else {}
    return lambda i: table.get(i, f"<{i}>")


def feature_table(
    store: ActivationStore,
    sae_id: str,
    w_dec: np.ndarray,
    w_u: np.ndarray | None,
    decode: Callable[[Sequence[int]], list[str]],
    fcfg,
    *,
    token_meta: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    decode_texts: Callable[[Sequence[Sequence[int]]], list[str]] | None = None,
) -> tuple[pa.Table, dict]:
    """Build the ``features`` rows of one SAE (docs/bundle.md) and its summary statistics.

    ``decode``: one display string per token id (top tokens, logits); ``decode_texts``: readable
    text of id sequences (contexts; default: the per-id strings joined by spaces).
    """
    token_ids, sequence_ids, _ = token_meta if token_meta is not None else store.token_metadata()
    n_vocab = int(token_ids.max()) + 1 if token_ids.size else 1
    acc = FeatureAccumulator(store.d_sae(sae_id), n_vocab, fcfg.top_examples * CANDIDATE_FACTOR)
    offset = 0
    for chunk in store.iter_chunks([sae_id]):
        acc.add(chunk.acts[sae_id], chunk.token_ids, offset)
        offset += chunk.n_tokens
    n_tok = max(acc.n_tokens, 1)
    density = acc.n_firings / n_tok
    mean_act = np.divide(acc.sum_act, acc.n_firings, out=np.zeros_like(acc.sum_act), where=acc.n_firings > 0)

    tok_ids, tok_acts = top_tokens(acc, fcfg.top_tokens)
    logit_ids, logit_vals = logit_effects(w_dec, w_u, fcfg.top_logits)
    vocab_ids = np.concatenate(
        [
            np.asarray([t for row in tok_ids for t in row], dtype=np.int64),
            np.asarray([t for row in logit_ids for t in row], dtype=np.int64),
            token_ids.astype(np.int64),
        ]
    )
    vocab = build_vocab(decode, vocab_ids)

    order = np.lexsort((acc.top_idx, -acc.top_vals, acc.top_cols))
    cols, vals, idx = acc.top_cols[order], acc.top_vals[order], acc.top_idx[order]
    kept = distinct_examples(cols, vals, idx, token_ids, sequence_ids, fcfg.context_window, fcfg.top_examples)
    cols, vals, idx = cols[kept], vals[kept], idx[kept]
    if decode_texts is None:

        def decode_texts(seqs):
            return [" ".join(vocab(int(t)) for t in seq) for seq in seqs]

    spans = [context_span(g, token_ids, sequence_ids, fcfg.context_window) for g in idx.tolist()]
    texts = marked_contexts(spans, decode_texts, vocab)
    ex_text: list[list[str]] = [[] for _ in range(acc.n_features)]
    ex_acts: list[list[float]] = [[] for _ in range(acc.n_features)]
    for c, v, t in zip(cols.tolist(), vals.tolist(), texts, strict=True):
        ex_text[c].append(t)
        ex_acts[c].append(float(v))

    f = acc.n_features
    table = pa.table(
        {
            "featureId": pa.array([f"{sae_id}:{i}" for i in range(f)], pa.string()),
            "saeId": pa.array([sae_id] * f, pa.string()),
            "index": pa.array(np.arange(f, dtype=np.int64)),
            "density": pa.array(density.astype(np.float64)),
            "nFirings": pa.array(acc.n_firings),
            "meanAct": pa.array(mean_act.astype(np.float64)),
            "maxAct": pa.array(acc.max_act.astype(np.float64)),
            "decoderNorm": pa.array(np.linalg.norm(w_dec.astype(np.float64), axis=1)),
            "dead": pa.array(acc.n_firings == 0),
            "topTokens": pa.array([[vocab(t) for t in row] for row in tok_ids], pa.list_(pa.string())),
            "topTokenActs": pa.array(tok_acts, pa.list_(pa.float64())),
            "topLogits": pa.array([[vocab(t) for t in row] for row in logit_ids], pa.list_(pa.string())),
            "topLogitValues": pa.array(logit_vals, pa.list_(pa.float64())),
            "topExamples": pa.array(ex_text, pa.list_(pa.string())),
            "topExampleActs": pa.array(ex_acts, pa.list_(pa.float64())),
        }
    )
    stats = {
        "features": f,
        "dead": int((acc.n_firings == 0).sum()),
        "meanL0": float(acc.n_firings.sum() / n_tok),
        "medianDensity": float(np.median(density)) if f else 0.0,
        "logits": "computed"
        if w_u is not None
        else "skipped: hook not in residual/MLP-out space or no unembedding",
    }
    return table, stats
