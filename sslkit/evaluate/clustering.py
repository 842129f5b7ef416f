"""Clustering quality against ground-truth labels: Hungarian-matched accuracy and NMI.

Used to score Self-Classifier (Amrani et al. 2021, arXiv 2103.10994), whose outputs are
cluster assignments: cluster ids are arbitrary, so accuracy first matches clusters to
classes one-to-one (Hungarian algorithm, as with scipy.optimize.linear_sum_assignment), and
NMI is invariant to relabelling by construction.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_ids(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Arbitrary integer labels -> contiguous ids 0..K-1."""
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-d array of labels, got shape {x.shape}")
    return np.unique(x, return_inverse=True)[1].reshape(-1)


def _contingency(pred: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """counts[i, j] = number of samples in cluster i with label j."""
    pred, labels = _as_ids(pred), _as_ids(labels)
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} predictions but {len(labels)} labels")
    if len(pred) == 0:
        raise ValueError("no samples")
    counts = np.zeros((pred.max() + 1, labels.max() + 1), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    return counts


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost one-to-one assignment of an (n, m) cost matrix.

    The O(n^2 m) Hungarian algorithm with row/column potentials (Kuhn-Munkres, in the
    shortest-augmenting-path form of Jonker & Volgenant), its inner loop vectorised over
    columns. Same result as scipy.optimize.linear_sum_assignment: min(n, m) pairs, rows
    ascending.
    """
    cost = np.asarray(cost, dtype=np.float64)
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:  # the algorithm assigns every row, so it needs n <= m
        cost = cost.T
    n, m = cost.shape
    u = np.zeros(n + 1)  # row potentials; index 0 is a virtual row/column
    v = np.zeros(m + 1)  # column potentials
    row_of = np.zeros(m + 1, dtype=np.int64)  # row_of[j]: row assigned to column j (0: none)
    way = np.zeros(m + 1, dtype=np.int64)  # previous column on the augmenting path
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        min_slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:  # grow a shortest augmenting path from row i to a free column
            used[j0] = True
            i0 = row_of[j0]
            slack = cost[i0 - 1] - u[i0] - v[1:]
            better = ~used[1:] & (slack < min_slack[1:])
            min_slack[1:][better] = slack[better]
            way[1:][better] = j0
            free = np.flatnonzero(~used[1:]) + 1
            j1 = free[np.argmin(min_slack[free])]
            delta = min_slack[j1]
            u[row_of[used]] += delta
            v[used] -= delta
            min_slack[~used] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:  # flip the path: each column on it takes the previous column's row
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    cols = np.flatnonzero(row_of[1:])
    rows = row_of[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]


def cluster_accuracy(pred: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """Accuracy in [0, 1] after the best one-to-one map of cluster ids to labels.

    With more clusters than classes the unmatched clusters count as errors.
    """
    counts = _contingency(pred, labels)
    rows, cols = linear_assignment(-counts)  # maximise the matched counts
    return float(counts[rows, cols].sum() / counts.sum())


def nmi(pred: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """Normalised mutual information I(U; V) / ((H(U) + H(V)) / 2), in [0, 1].

    The arithmetic-mean normalisation (scikit-learn's default); two single-cluster
    partitions give 1, as in scikit-learn.
    """
    counts = _contingency(pred, labels)
    p = counts / counts.sum()
    p_u, p_v = p.sum(axis=1), p.sum(axis=0)
    h_u = -np.sum(p_u * np.log(p_u))  # every row and column has a sample: no log(0)
    h_v = -np.sum(p_v * np.log(p_v))
    if h_u == 0 and h_v == 0:
        return 1.0
    nz = p > 0
    mutual_info = np.sum(p[nz] * np.log(p[nz] / np.outer(p_u, p_v)[nz]))
    return float(max(mutual_info, 0.0) / ((h_u + h_v) / 2))
