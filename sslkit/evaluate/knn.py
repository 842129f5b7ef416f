"""Weighted k-nearest-neighbour classification (Wu et al. 2018, arXiv 1805.01978).

The protocol of DINO's eval_knn.py (facebookresearch/dino, `knn_classifier`): features are
l2-normalised, each test sample takes its k most cosine-similar training samples, each
neighbour votes for its label with weight exp(sim / T), and the class with the largest sum
wins. DINO's defaults: k = 20, T = 0.07.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_classify(train_features: torch.Tensor, train_labels: torch.Tensor,
                 test_features: torch.Tensor, *, k: int = 20, temperature: float = 0.07,
                 num_classes: int | None = None, chunk_size: int = 256) -> torch.Tensor:
    """Predicted labels (M,) for test_features (M, D) from train_features (N, D), labels (N,).

    Test samples are processed chunk_size at a time, so memory is O(chunk_size x N).
    k is capped at N. num_classes defaults to max(train_labels) + 1.
    """
    if train_features.ndim != 2 or test_features.ndim != 2:
        raise ValueError("features must be (N, D) and (M, D)")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"feature dims differ: {train_features.shape[1]} vs "
                         f"{test_features.shape[1]}")
    if len(train_features) != len(train_labels):
        raise ValueError(f"{len(train_features)} train features but {len(train_labels)} labels")
    if num_classes is None:
        num_classes = int(train_labels.max()) + 1
    k = min(k, len(train_features))
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1).to(train.device)
    train_labels = train_labels.to(train.device).long()
    predictions = []
    for start in range(0, len(test), chunk_size):
        similarity = test[start:start + chunk_size] @ train.T  # BxN cosine similarities
        sim_k, idx_k = similarity.topk(k, dim=1)  # BxK
        # exp(sim / T) as in DINO, shifted by each row's max: same votes up to a per-row
        # factor, so the same argmax, and no float32 overflow at small T
        weights = ((sim_k - sim_k[:, :1]) / temperature).exp()
        votes = torch.zeros(len(sim_k), num_classes, device=train.device)
        votes.scatter_add_(1, train_labels[idx_k], weights)  # BxC weighted one-hot sums
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor,
                 test_features: torch.Tensor, test_labels: torch.Tensor, **kwargs) -> float:
    """Top-1 accuracy in [0, 1] of `knn_classify` (same keyword arguments)."""
    pred = knn_classify(train_features, train_labels, test_features, **kwargs)
    return (pred.cpu() == test_labels.cpu()).float().mean().item()
