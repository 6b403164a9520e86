"""The top-K kernel against a brute-force reference (full scores, seen = -inf, stable sort)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mlops_core.recsys.model import popularity_topk
from mlops_core.recsys.topk import topk, topk_reference


def _case(seed: int, users: int, items: int, factors: int, density: float, integer: bool):
    rng = np.random.default_rng(seed)
    if integer:  # small integers: many exactly equal scores
        u = rng.integers(-2, 3, (users, factors)).astype(np.float32)
        v = rng.integers(-2, 3, (items, factors)).astype(np.float32)
    else:
        u = rng.standard_normal((users, factors)).astype(np.float32)
        v = rng.standard_normal((items, factors)).astype(np.float32)
    seen = sp.random(users, items, density=density, format="csr", random_state=seed)
    return u, v, seen


@pytest.mark.parametrize(
    ("seed", "users", "items", "factors", "density", "integer", "k", "block", "workers"),
    [
        (0, 700, 300, 8, 0.05, False, 10, 64, 2),
        (1, 513, 257, 4, 0.2, True, 10, 32, 2),  # ties everywhere, ragged blocks
        (2, 100, 17, 3, 0.3, True, 25, 16, 1),  # K beyond the unseen items and the catalogue
        (3, 50, 1000, 16, 0.0, False, 1, 256, 2),  # K = 1, nothing seen
    ],
)
def test_matches_bruteforce(seed, users, items, factors, density, integer, k, block, workers):
    u, v, seen = _case(seed, users, items, factors, density, integer)
    idx, val = topk(u, v, seen, k, block=block, workers=workers)
    ref_idx, ref_val = topk_reference(u, v, seen, k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(val, ref_val, rtol=1e-5, atol=1e-5)


def test_ties_rank_lower_item_index_first():
    u = np.ones((1, 1), np.float32)
    v = np.array([[1.0], [2.0], [2.0], [1.0], [2.0]], np.float32)
    idx, val = topk(u, v, None, 4)
    assert idx.tolist() == [[1, 2, 4, 0]]
    assert val.tolist() == [[2.0, 2.0, 2.0, 1.0]]


def test_seen_items_never_returned_and_all_seen_gives_nothing():
    u, v, _ = _case(4, 40, 30, 5, 0.0, False)
    seen = sp.lil_matrix((40, 30), dtype=np.float32)
    seen[0, :] = 1  # user 0 has seen everything
    seen[1, :25] = 1  # user 1 has 5 unseen items
    idx, val = topk(u, v, seen.tocsr(), 10)
    assert (idx[0] == -1).all() and np.isneginf(val[0]).all()
    assert sorted(idx[1][:5].tolist()) == [25, 26, 27, 28, 29]
    assert (idx[1][5:] == -1).all()
    dense = seen.toarray() != 0
    for row, items in enumerate(idx):
        assert not dense[row, items[items >= 0]].any()


def test_workers_and_blocks_do_not_change_the_result():
    u, v, seen = _case(5, 2000, 500, 16, 0.02, False)
    single = topk(u, v, seen, 10, block=128, workers=1)
    multi = topk(u, v, seen, 10, block=128, workers=2)
    np.testing.assert_array_equal(single[0], multi[0])
    np.testing.assert_array_equal(single[1], multi[1])


def test_popularity_excludes_seen():
    pop = np.array([5, 9, 1, 7], np.float32)
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]], np.float32))
    idx, _ = popularity_topk(pop, seen, 3)
    assert idx.tolist() == [[3, 0, 2], [1, 3, 0]]


def test_rejects_bad_arguments():
    u, v, seen = _case(6, 10, 10, 2, 0.1, False)
    with pytest.raises(ValueError, match="k must be"):
        topk(u, v, seen, 0)
    with pytest.raises(ValueError, match="seen has shape"):
        topk(u, v, seen[:5], 3)
