"""The encoder-competition null of EXCLUDES on an SAE's own activations.

An SAE's latents can avoid each other because of the SAE rather than the data. When the
direction of latent j is added to an input on which latent i fires, i's pre-activation moves
by a_j (w_i . d_j) (w_i i's encoder row, d_j j's decoder row); where w_i . d_j < 0 the encoder
can switch i off. Two latents whose features are independent then co-fire less often than
independence predicts, and the plain exclusion test calls that an exclusion of the data
(docs/validation.md: on the planted benchmark's trained SAE, 86 % of the EXCLUDES edges
joined latents whose true features do not exclude each other).

Algorithm (docs/methods.md, "CO_ACTIVATES and EXCLUDES", encoder-competition null):
1. ``firing_samples``: per latent, up to ``max_samples`` of its firings evenly spaced in token
   order (every ceil(n_i / M)-th), each with its activation a and its margin m >= 0, how far
   its pre-activation lies above the point where it stops counting as firing: the store's
   threshold tau (``activations.threshold``), and for JumpReLU its own theta_i if larger (a
   stored activation is the pre-activation); for TopK the token's smallest stored activation
   when the token holds k of them (the k-th largest pre-activation is where a latent drops
   out), else tau. ReLU-like rules (``relu``) use tau alone; gated SAEs are approximated so.
2. ``competition_shares``: for a pair (i, j), G_ij = w_i . d_j and G_ji = w_j . d_i, and
   pi_ij = mean over the sample pairs (s of i, u of j) of
   1[m_i(s) + a_j(u) G_ij > 0] * 1[m_j(u) + a_i(s) G_ji > 0]: the share of the two latents'
   joint occurrences in which the encoder lets both fire when each input also holds the
   other's decoded direction (independent features, this SAE's encoder). pi = 1 when either
   latent has no sample.
3. ``adjust_exclusion_pvalues``: the exclusion test's odds ratio omega0 becomes omega0 * pi_ij,
   p = P_{omega0 pi}(C <= c) under Fisher's noncentral hypergeometric law, so an edge needs
   the latents to avoid each other omega0 times more than the encoder alone makes them (for
   sparse latents the co-firing odds ratio of independent features through this encoder is
   about pi; for dense ones it departs from pi by a factor within 1 +- p_i p_j). As pi <= 1 a
   p can only grow: the candidates found under omega0 hold every pair that can pass. The
   circular-shift null's candidates keep omega0: shifting breaks the alignment the
   competition needs, so a null pair has odds ratio about 1, and testing it at omega0 mirrors
   a real pair at its own null odds ratio pi tested at omega0 * pi.
``apply_encoder_null`` runs 1-3 on a stage's exclusion candidates (``stage``, step 5);
``encoder_geometry`` reads what it needs from a bundle.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from saegraph.ingest.config import CoactivationConfig
from saegraph.ingest.edges.coactivation.selection import effect_quantiles
from saegraph.ingest.edges.stats.hypergeom import lower_pvalues
from saegraph.ingest.edges.stats.stream import TokenBlocks

RULES = ("relu", "jumprelu", "topk")

MAX_SAMPLES = 128
"""Firings sampled per latent (step 1): pi costs M^2 operations per candidate pair."""


@dataclass(frozen=True)
class EncoderGeometry:
    """What the null needs of one SAE: encoder rows, decoder rows and the firing rule."""

    w_enc: np.ndarray
    """float32 [dSae, dIn]: row i is the encoder vector of latent i (W_enc transposed)."""
    w_dec: np.ndarray
    """float32 [dSae, dIn]: decoder rows as the SAE has them (not normalised)."""
    rule: str
    """``relu``, ``jumprelu`` or ``topk`` (step 1)."""
    threshold: np.ndarray | None = None
    """float32 [dSae]: JumpReLU thresholds (None: zeros)."""
    k: int = 0
    """TopK's k (0: unknown, every token's smallest stored activation is taken as its k-th)."""
    floor: float = 0.0
    """The store's firing threshold tau (``activations.threshold``): entries <= tau were not kept."""

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"encoder rule {self.rule!r} is not one of {RULES}")
        if self.w_enc.ndim != 2 or self.w_enc.shape != self.w_dec.shape:
            raise ValueError(
                f"encoder rows {self.w_enc.shape} and decoder rows {self.w_dec.shape} differ in shape"
            )
        if self.threshold is not None and np.shape(self.threshold) != (self.w_enc.shape[0],):
            raise ValueError(
                f"encoder thresholds {np.shape(self.threshold)} do not match {self.w_enc.shape[0]} latents"
            )


@nb.njit(cache=True, nogil=True)
def _collect(indptr, indices, data, topk, k, base, stride, seen, taken, out_a, out_m):
    """Step 1 on one CSR block; ``base[f]``: the latent's own floor (tau, or max(tau, theta_f))."""
    cap = out_a.shape[1]
    for t in range(indptr.shape[0] - 1):
        s = indptr[t]
        e = indptr[t + 1]
        if s == e:
            continue
        token_floor = -np.inf
        if topk and (k <= 0 or e - s >= k):
            token_floor = data[s]
            for p in range(s + 1, e):
                if data[p] < token_floor:
                    token_floor = data[p]
        for p in range(s, e):
            a = data[p]
            if a <= 0.0:
                continue
            f = indices[p]
            n = seen[f]
            seen[f] = n + 1
            if n % stride[f] == 0 and taken[f] < cap:
                out_a[f, taken[f]] = a
                out_m[f, taken[f]] = max(a - max(base[f], token_floor), 0.0)
                taken[f] += 1


def firing_samples(
    blocks: Iterable[sp.csr_matrix],
    n_fires: np.ndarray,
    geometry: EncoderGeometry,
    max_samples: int = MAX_SAMPLES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 1 over token blocks in token order: (activations [F, M], margins [F, M], samples per latent)."""
    F = int(n_fires.shape[0])
    stride = np.maximum(1, -(-np.asarray(n_fires, np.int64) // max_samples))
    seen = np.zeros(F, np.int64)
    taken = np.zeros(F, np.int64)
    out_a = np.zeros((F, max_samples), np.float32)
    out_m = np.zeros((F, max_samples), np.float32)
    base = np.full(F, geometry.floor, np.float64)
    if geometry.rule == "jumprelu" and geometry.threshold is not None:
        base = np.maximum(base, np.asarray(geometry.threshold, np.float64))
    for x in blocks:
        x = sp.csr_matrix(x)
        _collect(
            x.indptr.astype(np.int64),
            x.indices.astype(np.int32),
            x.data.astype(np.float32),
            geometry.rule == "topk",
            int(geometry.k),
            base,
            stride,
            seen,
            taken,
            out_a,
            out_m,
        )
    return out_a, out_m, taken


@nb.njit(cache=True, nogil=True)
def _shares(ii, jj, g_ij, g_ji, acts, margins, taken):
    out = np.empty(ii.shape[0])
    for e in range(ii.shape[0]):
        i = ii[e]
        j = jj[e]
        ni = taken[i]
        nj = taken[j]
        if ni == 0 or nj == 0:
            out[e] = 1.0
            continue
        hit = 0
        for s in range(ni):
            ai = acts[i, s]
            mi = margins[i, s]
            for u in range(nj):
                if mi + acts[j, u] * g_ij[e] > 0.0 and margins[j, u] + ai * g_ji[e] > 0.0:
                    hit += 1
        out[e] = hit / (ni * nj)
    return out


def cross_terms(geometry: EncoderGeometry, i: np.ndarray, j: np.ndarray):
    """(G_ij = w_i . d_j, G_ji = w_j . d_i) for every pair (float64), gathering about 256 MiB of
    rows at a time."""
    chunk = max(1, (1 << 26) // max(geometry.w_enc.shape[1], 1))
    g_ij = np.empty(i.size)
    g_ji = np.empty(i.size)
    for lo in range(0, i.size, chunk):
        a, b = i[lo : lo + chunk], j[lo : lo + chunk]
        g_ij[lo : lo + chunk] = np.einsum("kd,kd->k", geometry.w_enc[a], geometry.w_dec[b], dtype=np.float64)
        g_ji[lo : lo + chunk] = np.einsum("kd,kd->k", geometry.w_enc[b], geometry.w_dec[a], dtype=np.float64)
    return g_ij, g_ji


def competition_shares(geometry: EncoderGeometry, samples, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Step 2: pi_ij of every pair, from ``firing_samples``' output."""
    if i.size == 0:
        return np.zeros(0)
    acts, margins, taken = samples
    g_ij, g_ji = cross_terms(geometry, i, j)
    return _shares(i.astype(np.int64), j.astype(np.int64), g_ij, g_ji, acts, margins, taken)


def adjust_exclusion_pvalues(
    cands: dict[str, np.ndarray],
    pi: np.ndarray,
    n_fires: np.ndarray,
    n_tokens: int,
    logfact: np.ndarray,
    omega: float,
) -> dict[str, np.ndarray]:
    """Step 3: the candidates with p = P_{omega pi}(C <= c) (a new dict; i, j, c unchanged)."""
    i, j = cands["i"], cands["j"]
    if i.size == 0:
        return dict(cands)
    omegas = np.maximum(omega * pi, 1e-12)
    p = lower_pvalues(cands["c"], n_tokens, n_fires[i], n_fires[j], logfact, omegas)
    return {**cands, "p": np.maximum(p, cands["p"])}


def apply_encoder_null(
    exc: dict[str, np.ndarray],
    blocks: TokenBlocks,
    n_fires: np.ndarray,
    logfact: np.ndarray,
    config: CoactivationConfig,
    encoder: EncoderGeometry | None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Steps 1-3 on the real exclusion candidates ``exc`` (the null's keep omega0, step 3): the
    candidates with their new p, and what was done (the stats' ``excludes.encoderNull``)."""
    if not config.exclusion:
        return exc, {"applied": False, "reason": "edges.coactivation.exclusion = false"}
    if not config.encoder_null:
        return exc, {"applied": False, "reason": "edges.coactivation.encoder_null = false"}
    if encoder is None:
        return exc, {"applied": False, "reason": "no encoder for this SAE (bundle written without encoders/)"}
    if encoder.w_enc.shape[0] != n_fires.shape[0]:
        return exc, {
            "applied": False,
            "reason": f"the encoder has {encoder.w_enc.shape[0]} latents, the activations {n_fires.shape[0]}",
        }
    t0 = time.perf_counter()
    head = {"applied": True, "rule": encoder.rule, "k": int(encoder.k), "samplesPerLatent": MAX_SAMPLES}
    if not exc["i"].size:
        return exc, {**head, "candidates": 0}
    samples = firing_samples((b.acts[0] for b in blocks), n_fires, encoder)
    pi = competition_shares(encoder, samples, exc["i"], exc["j"])
    exc = adjust_exclusion_pvalues(exc, pi, n_fires, blocks.n_tokens, logfact, config.exclusion_odds_ratio)
    return exc, {
        **head,
        "candidates": int(pi.size),
        "candidatesStillAtQ": int((exc["p"] <= config.fdr_q).sum()),
        "competitionShare": effect_quantiles(pi),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def encoder_geometry(bundle, sae_id: str) -> EncoderGeometry | None:
    """The SAE's encoder rows, decoder rows and firing rule from the bundle (None without
    ``encoders/``: bundles written before it, or SAEs without an encoder)."""
    parts = bundle.encoder(sae_id)
    if parts is None:
        return None
    w_dec = bundle.decoder(sae_id)
    if w_dec.shape != parts["w_enc"].shape:
        return None  # an encoder that does not invert this decoder's space (e.g. a transcoder)
    return EncoderGeometry(w_dec=w_dec, **parts)
