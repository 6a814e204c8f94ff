"""Streaming SAE-like input with planted structure for the scale benchmark (``bench_scale.py``).

Generative model (F features, N tokens in sequences of 128; the plan depends on F and the seed
only, and chunk k is drawn from its own seed, so a smaller N is a prefix of a larger one):
1. Rates: features get Zipfian ranks, base rate (rank + 1)^-a, scaled by one factor c (found
   by bisection, rates capped at ``rate_cap``) so that the expected L0 -- every firing below
   included -- hits the target.
2. Independent features (plain, tree roots, topic members) fire independently per token at
   their rate; with probability ``persistence`` a firing also fires the next token of the same
   sequence (within-sequence autocorrelation, kept by the circular-shift null).
3. Trees (``tree_fraction`` of the features; roots among the denser half of the ranks):
   2-4 children per node, depth 2; a child fires only on tokens where its parent fires, with
   P(child | parent) uniform in [0.3, 0.8]. Truth: parent-child pairs are direct; every other
   pair in a tree (siblings, grandparent-grandchild, cousins) is "implied": positively
   associated through the shared ancestor, conditionally independent given it.
4. Exclusive sets (max(4, F / 2048); roots among the densest ranks): 2-4 children, of which at
   most one fires per parent firing (categorical, P(any) uniform in [0.7, 0.95]). Truth:
   parent-child direct; siblings "exclusive" (they never co-fire: EXCLUDES, negative LASSO).
5. Topics (``topic_fraction`` of the features in groups of ``topic_size``): each sequence
   switches each topic on with probability ``topic_prob``; then its members fire at
   ``topic_boost`` times their rate on that sequence's tokens. This is co-firing within a
   sequence, not at the same token beyond what the sequence-level rates imply: the
   circular-shift null reproduces it, so it is not a structural edge (scored as "topic").
6. Magnitudes: per-feature scale (log-normal) x (0.1 + Exp(1)), always > 0.
7. Decoders (d): random unit rows; a child is normalize(parent + noise) with cosine to its
   parent uniform in [0.5, 0.8]. SAE B: for ``shared_fraction`` of A's features, B row
   perm[i] = normalize(A row i + noise) with cosine uniform in [0.8, 0.95]; the other B rows
   are random. Truth: the permutation.
Chunks of ``chunk_tokens`` (whole sequences) are sampled as CSR and appended straight to the
bundle's ``ActivationStore`` (the format the ingest writes); never a dense token x feature array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEQ_LEN = 128


@dataclass(frozen=True)
class ScaleSpec:
    features: int = 131_072
    tokens: int = 1_000_000
    l0: float = 64.0
    d: int = 2304
    seed: int = 0
    chunk_tokens: int = 65_536
    zipf: float = 1.0
    rate_cap: float = 0.25
    persistence: float = 0.2
    tree_fraction: float = 1 / 8
    topic_fraction: float = 1 / 8
    topic_size: int = 16
    topic_prob: float = 0.02
    topic_boost: float = 20.0
    shared_fraction: float = 0.7

    @property
    def n_sequences(self) -> int:  # at least the requested tokens, in whole sequences
        return -(-self.tokens // SEQ_LEN)


@dataclass
class Plan:
    n_features: int
    rate: np.ndarray  # float64 [F]: per-token rate of independent firing (0 for children)
    topic_extra: np.ndarray  # float64 [F]: extra per-token rate inside an active topic
    scale: np.ndarray  # float32 [F]: magnitude scale
    pid: np.ndarray  # int64 [F]: parent row of a feature that has children, else -1
    child_ptr: np.ndarray  # int64 [P + 1]
    child: np.ndarray  # int64 [C]
    lo: np.ndarray  # float64 [C]: child fires when lo <= u < hi
    hi: np.ndarray
    exclusive: np.ndarray  # bool [P]: one shared u per parent firing (at most one child)
    topics: np.ndarray  # int64 [T, topic_size]
    levels: list  # [(parents, children)] per depth, for the decoders
    truth: dict  # name -> sorted int64 pair keys lo * F + hi
    expected_l0: float
    persistence: float
    topic_prob: float


def pair_keys(a, b, n_features: int) -> np.ndarray:
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    return _sorted_unique(np.minimum(a, b) * n_features + np.maximum(a, b))


def make_plan(spec: ScaleSpec) -> Plan:
    F = spec.features
    rng = np.random.default_rng([spec.seed, 0])
    by_rank = rng.permutation(F)  # by_rank[r] = feature of rank r
    base = np.empty(F)
    base[by_rank] = (np.arange(F) + 1.0) ** -spec.zipf
    free = np.ones(F, bool)

    def take(ranks) -> np.ndarray:
        f = by_rank[np.asarray(ranks, np.int64)]
        free[f] = False
        return f

    n_excl = max(4, F // 2048)
    n_trees = max(2, round(spec.tree_fraction * F / 13))  # 13 = mean size of a 2-4-ary tree of depth 2
    excl_roots = take(np.arange(2, 2 + n_excl))
    cand = np.arange(2 + n_excl, F // 2)
    roots = take(rng.choice(cand, n_trees, replace=False))
    pool = rng.permutation(np.flatnonzero(free))
    used = 0

    def grab(n: int) -> np.ndarray:
        nonlocal used
        out = pool[used : used + n]
        if out.size < n:
            raise ValueError(f"{F} features are too few for the planted structure")
        used += n
        free[out] = False
        return out

    parents, kids, lo, hi, excl, level_of = [], [], [], [], [], []
    tree_id = np.full(F, -1, np.int64)
    levels = [([], []), ([], [])]
    for t, root in enumerate(roots):
        tree_id[root] = t
        frontier = [root]
        for depth in range(2):
            nxt = []
            for p in frontier:
                ch = grab(int(rng.integers(2, 5)))
                pc = rng.uniform(0.3, 0.8, ch.size)
                parents.append(np.full(ch.size, p))
                kids.append(ch)
                lo.append(np.zeros(ch.size))
                hi.append(pc)
                excl.append(False)
                level_of.append(depth)
                tree_id[ch] = t
                levels[depth][0].append(np.full(ch.size, p))
                levels[depth][1].append(ch)
                nxt.extend(ch.tolist())
            frontier = nxt
    excl_sib = []
    for root in excl_roots:
        ch = grab(int(rng.integers(2, 5)))
        probs = rng.uniform(0.7, 0.95) * rng.dirichlet(np.ones(ch.size))
        cum = np.r_[0.0, np.cumsum(probs)]
        parents.append(np.full(ch.size, root))
        kids.append(ch)
        lo.append(cum[:-1])
        hi.append(cum[1:])
        excl.append(True)
        level_of.append(0)
        levels[0][0].append(np.full(ch.size, root))
        levels[0][1].append(ch)
        ii, jj = np.triu_indices(ch.size, 1)
        excl_sib.append(np.c_[ch[ii], ch[jj]])
    n_topics = int(spec.topic_fraction * F) // spec.topic_size
    topics = grab(n_topics * spec.topic_size).reshape(n_topics, spec.topic_size)

    # parent table (one row per feature with children, in insertion order)
    par = np.concatenate(parents)
    child = np.concatenate(kids)
    starts = np.r_[0, np.flatnonzero(np.diff(par)) + 1]
    pid = np.full(F, -1, np.int64)
    pid[par[starts]] = np.arange(starts.size)
    child_ptr = np.r_[starts, par.size].astype(np.int64)
    group_excl = np.concatenate([np.full(k.size, e) for k, e in zip(kids, excl)])[starts]
    lo_a, hi_a = np.concatenate(lo), np.concatenate(hi)
    level_arr = np.concatenate([np.full(k.size, lv) for k, lv in zip(kids, level_of)])

    # rates: bisection on the scale c so that the expected L0 hits the target
    indep = ~np.isin(np.arange(F), child)
    topic_member = np.zeros(F, bool)
    topic_member[topics.ravel()] = True

    def rates(c: float):
        r = np.where(indep, np.minimum(spec.rate_cap, c * base), 0.0)
        extra = np.where(topic_member, np.minimum(r * (spec.topic_boost - 1), 1.0 - r), 0.0)
        s_on = spec.topic_prob  # P(fires at a token): uniform draws with replacement, then persistence
        q = (1 - s_on) * -np.expm1(-r) + s_on * -np.expm1(-(r + extra))
        eff = 1 - (1 - q) * (1 - spec.persistence * q)
        for depth in range(2):  # children: P(child) = P(parent) * P(child | parent)
            sel = level_arr == depth
            eff[child[sel]] = eff[par[sel]] * (hi_a[sel] - lo_a[sel])
        return r, extra, eff

    lo_c, hi_c = 0.0, 1.0
    while rates(hi_c)[2].sum() < spec.l0 and hi_c < 1e9:
        hi_c *= 2
    for _ in range(60):
        mid = (lo_c + hi_c) / 2
        lo_c, hi_c = (mid, hi_c) if rates(mid)[2].sum() < spec.l0 else (lo_c, mid)
    r, extra, eff = rates(hi_c)

    # truth
    direct = pair_keys(par, child, F)
    in_tree = np.flatnonzero(tree_id >= 0)
    order = in_tree[np.argsort(tree_id[in_tree], kind="stable")]
    tid = tree_id[order]
    bounds = np.r_[0, np.flatnonzero(np.diff(tid)) + 1, tid.size]
    same_a, same_b = [], []
    for s, e in zip(bounds[:-1], bounds[1:]):
        ii, jj = np.triu_indices(e - s, 1)
        same_a.append(order[s:e][ii])
        same_b.append(order[s:e][jj])
    same = pair_keys(np.concatenate(same_a), np.concatenate(same_b), F)
    ti, tj = np.triu_indices(spec.topic_size, 1)
    sib = np.concatenate(excl_sib)
    truth = {
        "direct": direct,
        "implied": np.setdiff1d(same, direct),
        "exclusive": pair_keys(sib[:, 0], sib[:, 1], F),
        "topic": pair_keys(topics[:, ti].ravel(), topics[:, tj].ravel(), F),
    }
    lv = [(np.concatenate(levels[k][0]), np.concatenate(levels[k][1])) for k in range(2) if levels[k][0]]
    return Plan(
        n_features=F,
        rate=r,
        topic_extra=extra,
        scale=rng.lognormal(0.0, 0.5, F).astype(np.float32),
        pid=pid,
        child_ptr=child_ptr,
        child=child.astype(np.int64),
        lo=lo_a,
        hi=hi_a,
        exclusive=group_excl.astype(bool),
        topics=topics.astype(np.int64),
        levels=lv,
        truth=truth,
        expected_l0=float(eff.sum()),
        persistence=spec.persistence,
        topic_prob=spec.topic_prob,
    )


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    x.sort()
    return x[np.r_[True, x[1:] != x[:-1]]] if x.size else x


def sample_chunk(plan: Plan, n_seq: int, rng: np.random.Generator):
    """One chunk of ``n_seq`` whole sequences as CSR parts (indptr int64, indices int32, data float32)."""
    F, L = plan.n_features, SEQ_LEN
    n = n_seq * L
    counts = rng.binomial(n, plan.rate)
    feat = np.repeat(np.arange(F, dtype=np.int64), counts)
    tok = rng.integers(0, n, feat.size, dtype=np.int64)
    if plan.topics.size:  # active (sequence, topic) pairs: members fire at the boosted rate there
        seq_on, top_on = np.nonzero(rng.random((n_seq, plan.topics.shape[0])) < plan.topic_prob)
        members = plan.topics[top_on].ravel()
        seqs = np.repeat(seq_on, plan.topics.shape[1])
        extra = rng.binomial(L, plan.topic_extra[members])
        f2 = np.repeat(members, extra)
        t2 = np.repeat(seqs, extra) * L + rng.integers(0, L, f2.size)
        feat, tok = np.concatenate([feat, f2]), np.concatenate([tok, t2])
    nxt = (rng.random(tok.size) < plan.persistence) & (tok % L != L - 1)
    keys = [_sorted_unique(np.concatenate([tok, tok[nxt] + 1]) * F + np.concatenate([feat, feat[nxt]]))]
    parents = keys[0]
    for _ in range(2):  # level 1 from the roots' firings, level 2 from level 1's
        p = plan.pid[parents % F]
        sel = p >= 0
        pk, p = parents[sel], p[sel]
        nk = plan.child_ptr[p + 1] - plan.child_ptr[p]
        rep = np.repeat(np.arange(pk.size), nk)
        slot = plan.child_ptr[p][rep] + np.arange(rep.size) - np.repeat(np.cumsum(nk) - nk, nk)
        u = np.where(plan.exclusive[p][rep], rng.random(pk.size)[rep], rng.random(rep.size))
        fire = (u >= plan.lo[slot]) & (u < plan.hi[slot])
        parents = (pk[rep[fire]] // F) * F + plan.child[slot[fire]]
        keys.append(parents)
    key = np.sort(np.concatenate(keys))
    tok = key // F
    indices = (key - tok * F).astype(np.int32)
    indptr = np.r_[0, np.cumsum(np.bincount(tok, minlength=n))].astype(np.int64)
    data = (plan.scale[indices] * (0.1 + rng.exponential(1.0, indices.size))).astype(np.float32)
    return indptr, indices, data


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _towards(rows: np.ndarray, cos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """normalize(rows + tau * g) with g a random unit-ish direction, tau set for the target cosine."""
    tau = np.sqrt(1.0 / cos**2 - 1.0)[:, None]
    g = rng.standard_normal(rows.shape, dtype=np.float32) / np.sqrt(rows.shape[1])
    return _unit(rows + tau.astype(np.float32) * g)


def decoder_a(spec: ScaleSpec, plan: Plan) -> np.ndarray:
    """A's decoder [F, d]: random unit rows; children pulled towards their parents."""
    rng = np.random.default_rng([spec.seed, 1])
    w = np.empty((spec.features, spec.d), np.float32)
    for r0 in range(0, spec.features, 8192):
        w[r0 : r0 + 8192] = _unit(
            rng.standard_normal((min(8192, spec.features - r0), spec.d), dtype=np.float32)
        )
    for parents, children in plan.levels:  # level by level, so a parent row is final first
        w[children] = _towards(w[parents], rng.uniform(0.5, 0.8, children.size), rng)
    return w


def write_decoder_b(spec: ScaleSpec, w_a: np.ndarray, path: Path) -> np.ndarray:
    """B's decoder written block by block to ``path`` (.npy); returns perm (B row of each A row, -1 if none)."""
    rng = np.random.default_rng([spec.seed, 2])
    F = spec.features
    perm = rng.permutation(F)
    shared = rng.random(F) < spec.shared_fraction
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(F, spec.d))
    for r0 in range(0, F, 8192):
        r1 = min(r0 + 8192, F)
        rows = _towards(w_a[r0:r1], rng.uniform(0.8, 0.95, r1 - r0), rng)
        rand = _unit(rng.standard_normal((r1 - r0, spec.d), dtype=np.float32))
        out[perm[r0:r1]] = np.where(shared[r0:r1, None], rows, rand)
    out.flush()
    del out
    return np.where(shared, perm, -1).astype(np.int64)
