"""FAISS top-k equals brute force; per-class neighbour tables; k larger than the real set is a clear error."""

from __future__ import annotations

import pytest
import torch

from doodl.lab.neighbors import brute_force_topk, topk_neighbors
from doodl.lab.postprocess import neighbor_table

pytest.importorskip("faiss")


def _sets(d: int = 6):
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, d, generator=g), torch.randn(300, d, generator=g)


def test_faiss_topk_equals_brute_force():
    q, r = _sets()
    d_f, i_f = topk_neighbors(q, r, k=7)
    d_b, i_b = brute_force_topk(q, r, k=7)
    assert i_f.shape == (40, 7) and i_f.dtype == torch.long
    assert torch.equal(i_f, i_b)
    torch.testing.assert_close(d_f, d_b, rtol=1e-4, atol=1e-4)
    # nearest first, and the distances are the true squared distances
    assert (d_f[:, 1:] >= d_f[:, :-1]).all()
    torch.testing.assert_close(d_f[:, 0], ((q - r[i_f[:, 0]]) ** 2).sum(1), rtol=1e-4, atol=1e-4)


def test_ivf_index_probing_every_list_is_exact():
    q, r = _sets()
    _, i_ivf = topk_neighbors(q, r, k=5, exact_limit=10, nprobe=1000)
    _, i_b = brute_force_topk(q, r, k=5)
    assert torch.equal(i_ivf, i_b)


def test_images_are_flattened_per_row():
    g = torch.Generator().manual_seed(1)
    q, r = torch.rand(5, 1, 4, 4, generator=g), torch.rand(50, 1, 4, 4, generator=g)
    assert torch.equal(topk_neighbors(q, r, 3)[1], brute_force_topk(q.flatten(1), r.flatten(1), 3)[1])


def test_neighbor_table_stays_in_class():
    q, r = _sets(2)
    ql, rl = torch.arange(40) % 2, torch.arange(300) % 3 % 2
    idx = neighbor_table(q, r, 4, ql, rl)
    assert (rl[idx] == ql[:, None]).all()
    sub = torch.nonzero(rl == 1).squeeze(1)
    expect = sub[brute_force_topk(q[ql == 1], r[sub], 4)[1]]
    assert torch.equal(idx[ql == 1], expect)


def test_k_larger_than_the_real_set_is_a_clear_error():
    q, r = _sets()
    with pytest.raises(ValueError, match=r"k \(301\) is larger than the real set \(300"):
        topk_neighbors(q, r, 301)
    with pytest.raises(ValueError, match="larger than the real set of class 1"):
        neighbor_table(q, r, 200, torch.zeros(40, dtype=torch.long) + 1, torch.arange(300) % 2)
    with pytest.raises(ValueError, match="k must be a positive int"):
        topk_neighbors(q, r, 0)
    with pytest.raises(ValueError, match="same size"):
        topk_neighbors(q, r[:, :3], 2)
