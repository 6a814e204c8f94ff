"""Max activation correlation between two SAEs of a bundle, with its sequence-shift null.

Algorithm (docs/methods.md, "Universality across a family"; Lan et al. 2024 for the statistic):
1. Real statistic: for every live feature of A the max Pearson r over all features of B on the
   N shared tokens (``actcorr.max_activation_correlation``), averaged over A's live features
   (``maxActCorrAB``), and the same from B (``maxActCorrBA``). The MATCHES stage records it in
   ``manifest.stats.matches.pairs["A->B"].activationCorrelation``; it is reused when it was
   computed on the same N tokens, else computed here.
2. Null at the same token count: B's token axis is broken by a circular shift of whole
   sequences. With the S distinct sequences in order, the token at position p of sequence i
   of A is paired with the token at position p of sequence (i + s) mod S of B, s = S // 2
   (or a seeded random s in [1, S)). Each feature keeps its firing frequency and its
   within-sequence structure; only the alignment of the two SAEs' tokens is lost. Tokens
   whose partner position does not exist (sequences of unequal kept length) are dropped and
   the count used is reported (``nullTokens``; equal to N for equal-length sequences).
3. Step 1's statistic on the shifted pair is ``actCorrNullAB`` / ``actCorrNullBA``.
Without activations of both SAEs every value is NaN and ``actCorrInfo`` says why.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from saegraph.ingest.activation_store import ActivationStore, ActivationStoreError
from saegraph.ingest.edges.matches.actcorr import max_activation_correlation

NAN_ROW = {
    "maxActCorrAB": math.nan,
    "maxActCorrBA": math.nan,
    "actCorrNullAB": math.nan,
    "actCorrNullBA": math.nan,
    "tokens": 0,
    "nullTokens": 0,
    "nullShift": 0,
}


def _mean(r: np.ndarray) -> float:
    r = np.asarray(r, dtype=float)
    return float(np.nanmean(r)) if np.isfinite(r).any() else math.nan


def sequence_shift(seq_ids: np.ndarray, positions: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows of A, rows of B): the token (sequence i, position p) of A beside (sequence
    (i + shift) mod S, position p) of B; pairs without such a token in B are left out (step 2)."""
    seqs = np.unique(seq_ids)
    rank = np.searchsorted(seqs, seq_ids)
    width = int(positions.max()) + 1 if positions.size else 1
    key = rank.astype(np.int64) * width + positions.astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    want = ((rank + shift) % max(len(seqs), 1)).astype(np.int64) * width + positions.astype(np.int64)
    at = np.minimum(np.searchsorted(sorted_key, want), max(len(key) - 1, 0))
    found = sorted_key[at] == want if len(key) else np.zeros(0, bool)
    return np.flatnonzero(found), order[at[found]]


def pair_statistics(acts_a, acts_b, seq_ids, positions, *, shift: int | None = None, seed=None, real=None):
    """Step 1-3 for one pair of CSR activation matrices over the same tokens.

    ``real``: (meanMaxAB, meanMaxBA) already known for these tokens (the stored statistic)."""
    n = int(acts_a.shape[0])
    n_seq = int(np.unique(seq_ids).size)
    out = dict(NAN_ROW, tokens=n)
    info = []
    if real is None:
        _, r_ab, _, r_ba = max_activation_correlation(acts_a, acts_b)
        real = (_mean(r_ab), _mean(r_ba))
        info.append("statistic computed from the activations")
    else:
        info.append("statistic from the MATCHES stage")
    out["maxActCorrAB"], out["maxActCorrBA"] = real
    if n_seq < 2:
        info.append(f"no null: {n_seq} sequence(s), a shift needs >= 2")
        return out, "; ".join(info)
    if shift is None:
        shift = int(np.random.default_rng(seed).integers(1, n_seq)) if seed is not None else n_seq // 2
    shift = int(shift) % n_seq
    if shift == 0:
        raise ValueError(f"a sequence shift of 0 (mod {n_seq} sequences) is no null: choose another")
    rows_a, rows_b = sequence_shift(np.asarray(seq_ids), np.asarray(positions), shift)
    _, r_ab, _, r_ba = max_activation_correlation(acts_a[rows_a], acts_b[rows_b])
    out.update(
        actCorrNullAB=_mean(r_ab), actCorrNullBA=_mean(r_ba), nullTokens=int(rows_a.size), nullShift=shift
    )
    info.append(f"null: B shifted by {shift} of {n_seq} sequences")
    return out, "; ".join(info)


class FamilyActivationCorrelation:
    """``family_table``'s activation_correlation hook for a bundle: call with (saeA, saeB, stored
    stats of the pair) for the row's max activation correlation, null and info (module docstring).
    Holds at most ``cache`` SAEs' stacked activations at a time."""

    def __init__(self, bundle_path, *, shift: int | None = None, seed: int | None = None, cache: int = 3):
        from saegraph.ingest.bundle import open_bundle

        self.bundle = open_bundle(bundle_path, verify=False)
        self.shift, self.seed, self._size = shift, seed, cache
        self._acts: OrderedDict = OrderedDict()
        self.store: ActivationStore | None = None
        try:
            self.store = self.bundle.activations
            self.sae_ids = set(self.store.sae_ids) if self.store.n_tokens > 0 else set()
            self.why = "" if self.sae_ids else "the bundle holds no activation tokens"
        except ActivationStoreError as exc:  # a bundle written without activations
            self.sae_ids, self.why = set(), f"no activations in the bundle ({exc})"

    def _stack(self, sid: str):
        assert self.store is not None  # only for SAEs in self.sae_ids
        if sid not in self._acts:
            self._acts[sid] = self.store.stack(sid)
            while len(self._acts) > self._size:
                self._acts.popitem(last=False)
        self._acts.move_to_end(sid)
        return self._acts[sid]

    def __call__(self, sid_a: str, sid_b: str, stored: dict | None = None) -> tuple[dict, str]:
        missing = [s for s in (sid_a, sid_b) if s not in self.sae_ids]
        if missing:
            return dict(NAN_ROW), self.why or f"no activations of {', '.join(missing)} in the bundle"
        acts_a, seq, pos = self._stack(sid_a)
        acts_b = self._stack(sid_b)[0]
        stored = (stored or {}).get("activationCorrelation") or {}
        real = None
        if stored.get("nTokens") == acts_a.shape[0] and "meanMaxAB" in stored:
            real = tuple(
                math.nan if v is None else float(v) for v in (stored["meanMaxAB"], stored.get("meanMaxBA"))
            )
        return pair_statistics(acts_a, acts_b, seq, pos, shift=self.shift, seed=self.seed, real=real)
