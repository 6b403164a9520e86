"""Blocked top-K over user x item scores with already-seen items excluded.

Users are processed in blocks: one BLAS matrix product per block (a single BLAS thread per
worker) fills a reused score buffer, then a compiled, GIL-free selection pass masks the
block's seen items and keeps the K best per row. Selection scans each row in chunks of 16:
a chunk whose maximum does not beat the current K-th score is skipped with one vectorisable
max, so after the first few hundred items almost every chunk costs one comparison. Worker
threads take alternate blocks, so matrix products and selections of different blocks overlap
on all cores. Nothing of size users x items is ever allocated.

Ranking is by score descending; equal scores rank the lower item index first (the order of
a stable sort), and slots beyond the unseen items are ``-1`` with score ``-inf``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numba import njit

_CHUNK = 16


@njit(nogil=True, cache=True, inline="always")
def _push(vals, idx, k, value, col):  # pragma: no cover - compiled
    p = k - 1
    while p > 0 and vals[p - 1] < value:
        vals[p] = vals[p - 1]
        idx[p] = idx[p - 1]
        p -= 1
    vals[p] = value
    idx[p] = col


@njit(nogil=True, cache=True)
def _select_block(scores, indptr, indices, row0, k, out_idx, out_val):  # pragma: no cover
    n, m = scores.shape
    for r in range(n):
        row = scores[r]
        for j in range(indptr[row0 + r], indptr[row0 + r + 1]):
            row[indices[j]] = -np.inf
        vals = out_val[r]
        idx = out_idx[r]
        vals[:] = -np.inf
        idx[:] = -1
        thr = -np.inf
        c0 = 0
        while c0 + _CHUNK <= m:
            mx = row[c0]
            for c in range(c0 + 1, c0 + _CHUNK):
                if row[c] > mx:
                    mx = row[c]
            if mx > thr:
                for c in range(c0, c0 + _CHUNK):
                    v = row[c]
                    if v > thr:
                        _push(vals, idx, k, v, c)
                        thr = vals[k - 1]
            c0 += _CHUNK
        for c in range(c0, m):
            v = row[c]
            if v > thr:
                _push(vals, idx, k, v, c)
                thr = vals[k - 1]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("MLOPS_TOPK_WORKERS", "64"))))


def topk(
    user_vectors: np.ndarray,
    item_factors: np.ndarray,
    seen: sp.csr_matrix | None,
    k: int,
    *,
    block: int = 256,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` items per user by ``user_vectors @ item_factors.T``, seen items excluded.

    Args:
        user_vectors: (users, factors) float32.
        item_factors: (items, factors) float32.
        seen: (users, items) CSR; its non-zero pattern marks items to exclude. None: none.
        k: items per user (may exceed the unseen items; missing slots are -1 / -inf).
        block: users per matrix product (bounded memory: workers x block x items floats).
        workers: threads; default all cores.

    Returns:
        (indices int64 (users, k), scores float32 (users, k)), best first.
    """
    from threadpoolctl import threadpool_limits

    users = np.ascontiguousarray(user_vectors, dtype=np.float32)
    items_t = np.ascontiguousarray(np.asarray(item_factors, dtype=np.float32).T)
    n_users, n_items = users.shape[0], items_t.shape[1]
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if seen is None:
        seen = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    seen = sp.csr_matrix(seen)
    if seen.shape != (n_users, n_items):
        raise ValueError(f"seen has shape {seen.shape}, expected {(n_users, n_items)}")
    indptr = seen.indptr.astype(np.int64, copy=False)
    indices = seen.indices.astype(np.int64, copy=False)
    out_idx = np.empty((n_users, k), dtype=np.int64)
    out_val = np.empty((n_users, k), dtype=np.float32)
    starts = list(range(0, n_users, block))
    workers = max(1, min(workers or default_workers(), len(starts)))

    def run(worker: int) -> None:
        buf = np.empty((block, n_items), dtype=np.float32)
        for start in starts[worker::workers]:
            end = min(n_users, start + block)
            scores = buf[: end - start]
            np.matmul(users[start:end], items_t, out=scores)
            _select_block(scores, indptr, indices, start, k, out_idx[start:end], out_val[start:end])

    with threadpool_limits(1, "blas"):
        if workers == 1:
            run(0)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="topk") as pool:
                list(pool.map(run, range(workers)))
    return out_idx, out_val


def topk_reference(
    user_vectors: np.ndarray, item_factors: np.ndarray, seen: sp.csr_matrix | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: full scores, seen set to -inf, stable sort. For tests and checks only."""
    scores = np.asarray(user_vectors, np.float32) @ np.asarray(item_factors, np.float32).T
    if seen is not None:
        mask = sp.csr_matrix(seen).toarray() != 0
        scores[mask] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(scores, order, axis=1)
    order = np.where(np.isneginf(vals), -1, order)
    if order.shape[1] < k:  # k beyond the catalogue
        pad = k - order.shape[1]
        order = np.pad(order, ((0, 0), (0, pad)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, pad)), constant_values=-np.inf)
    return order.astype(np.int64), vals.astype(np.float32)
