"""Top-k nearest real neighbours of generated samples (the paper's App. C.1 uses FAISS, Douze et al. 2024).

Exact L2 search (faiss.IndexFlatL2) for sets up to `exact_limit` points; above it an inverted-file index
(faiss.IndexIVFFlat, sqrt(N) lists, `nprobe` probed), which is approximate. Without faiss installed, the exact
torch search below is used (same answer, slower on big sets).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import Tensor

log = logging.getLogger(__name__)


def _check(queries: Tensor, reals: Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(queries, Tensor) or not isinstance(reals, Tensor) or queries.ndim < 2 or reals.ndim < 2:
        raise ValueError("queries and reals must be tensors (N, ...) with one sample per row")
    q = queries.detach().reshape(queries.shape[0], -1).to("cpu", torch.float32)
    r = reals.detach().reshape(reals.shape[0], -1).to("cpu", torch.float32)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and reals must have the same size per sample, got {q.shape[1]} and {r.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > r.shape[0]:
        raise ValueError(f"k ({k}) is larger than the real set ({r.shape[0]} samples)")
    if not (torch.isfinite(q).all() and torch.isfinite(r).all()):
        raise ValueError("queries and reals must be finite")
    return np.ascontiguousarray(q.numpy()), np.ascontiguousarray(r.numpy())


def brute_force_topk(queries: Tensor, reals: Tensor, k: int, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """(squared distances (N, k), indices (N, k) int64) of the k nearest reals to each query, by exhaustive torch search."""
    q, r = (torch.from_numpy(a).double() for a in _check(queries, reals, k))
    d_out, i_out = [], []
    rn = (r * r).sum(1)
    for s in range(0, q.shape[0], chunk):
        qc = q[s : s + chunk]
        d = ((qc * qc).sum(1, keepdim=True) - 2 * qc @ r.T + rn[None]).clamp_min(0)
        dv, iv = d.topk(k, dim=1, largest=False)
        d_out.append(dv.float())
        i_out.append(iv)
    return torch.cat(d_out), torch.cat(i_out)


def topk_neighbors(queries: Tensor, reals: Tensor, k: int = 20, exact_limit: int = 100_000,
                   nprobe: int = 16) -> tuple[Tensor, Tensor]:
    """(squared L2 distances (N, k), indices into reals (N, k) int64), nearest first, found with FAISS.

    Args:
        queries: generated samples (N, ...), flattened per row.
        reals: the real set (M, ...), same size per row; k must not exceed M.
        k: neighbours per query (paper: top-20).
        exact_limit: exact search up to this many reals, IVF (approximate) above.
        nprobe: lists probed by the IVF index.
    """
    q, r = _check(queries, reals, k)
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is in the [lab] and [test] extras
        log.warning("faiss is not installed (pip install 'doodl[lab]'); using exact torch search")
        return brute_force_topk(queries, reals, k)
    d = r.shape[1]
    if r.shape[0] <= exact_limit:
        index = faiss.IndexFlatL2(d)
    else:
        nlist = int(math.sqrt(r.shape[0]))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
        index.train(r)
        index.nprobe = nprobe
    index.add(r)
    dist, idx = index.search(q, k)
    return torch.from_numpy(dist), torch.from_numpy(idx.astype(np.int64))
