"""Linear probe: a single linear classifier trained on frozen, precomputed features.

The standard SSL evaluation (e.g. SimCLR arXiv 2002.05709 Sec. B.6, solo-learn's linear
eval) trains a linear layer on top of the frozen backbone. Because the backbone is frozen
and we skip augmentation, the features are computed once and the probe is a multinomial
logistic regression trained with AdamW and a cosine learning-rate schedule: seconds on a
CPU for 10k x 512 features. Features are standardised with the training set's statistics.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor,
                 test_features: torch.Tensor, test_labels: torch.Tensor, *,
                 epochs: int = 100, lr: float = 1e-3, weight_decay: float = 1e-4,
                 batch_size: int = 1024, seed: int = 0) -> dict[str, float]:
    """Train nn.Linear(D, C) on (N, D) features; returns {"top1", "train_top1"} in [0, 1].

    Runs on the features' device; the classifier starts at zero (the problem is convex) and
    mini-batches are shuffled by a generator seeded with `seed`, so results are repeatable.
    """
    if train_features.ndim != 2 or test_features.ndim != 2:
        raise ValueError("features must be (N, D) and (M, D)")
    if len(train_features) != len(train_labels) or len(test_features) != len(test_labels):
        raise ValueError("features and labels differ in length")
    device = train_features.device
    train_labels = train_labels.to(device).long()
    test_labels = test_labels.to(device).long()
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1

    mean = train_features.float().mean(dim=0)
    std = train_features.float().std(dim=0).clamp_min(1e-6)  # constant dims stay 0
    x_train = (train_features.float() - mean) / std
    x_test = (test_features.to(device).float() - mean) / std

    classifier = nn.Linear(x_train.shape[1], num_classes).to(device)
    nn.init.zeros_(classifier.weight)
    nn.init.zeros_(classifier.bias)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total_steps = epochs * steps_per_epoch
    lrs = [lr * 0.5 * (1 + math.cos(math.pi * t / total_steps)) for t in range(total_steps)]

    step = 0
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator).to(device)
        for start in range(0, len(x_train), batch_size):
            idx = order[start:start + batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lrs[step]
            loss = F.cross_entropy(classifier(x_train[idx]), train_labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1

    with torch.no_grad():
        top1 = (classifier(x_test).argmax(1) == test_labels).float().mean().item()
        train_top1 = (classifier(x_train).argmax(1) == train_labels).float().mean().item()
    return {"top1": top1, "train_top1": train_top1}
