"""Evaluation: features, weighted kNN, linear probe, collapse diagnostics, clustering scores."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.evaluate import (alignment, cluster_accuracy, collapse_report, effective_rank,
                             extract_features, knn_accuracy, knn_classify, linear_assignment,
                             linear_probe, nmi, singular_values, std_of_l2_normalized,
                             uniformity)


def clusters(n_per_class, num_classes, dim, *, spread=0.1, seed=0):
    """Gaussian blobs around random unit centres: (N, dim) features, (N,) labels."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_classes, dim, generator=g), dim=1)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    x = centres[labels] + spread * torch.randn(len(labels), dim, generator=g)
    return x, labels


def train_test_split(x, y, test_fraction=0.25, seed=0):
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test, train = order[: int(test_fraction * len(x))], order[int(test_fraction * len(x)):]
    return x[train], y[train], x[test], y[test]


# ---------------------------------------------------------------------------- features

def test_extract_features_normalises_batches_and_restores_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(1)).train()
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    y = extract_features(model, images, mean, std, batch_size=3)
    assert model.training  # restored
    model.eval()
    x = (images.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(y, model(x))
    assert not y.requires_grad
    with pytest.raises(ValueError, match="uint8"):
        extract_features(model, images.float(), mean, std)


# ---------------------------------------------------------------------------- kNN

def dino_knn_reference(train_features, train_labels, test_features, k, T, num_classes):
    """DINO eval_knn.py's knn_classifier, one test sample at a time: l2-normalise, top-k
    cosine similarities, one-hot labels weighted by exp(sim / T), summed, best class."""
    train = F.normalize(train_features, dim=1)
    test = F.normalize(test_features, dim=1)
    predictions = []
    for feature in test:
        similarity = train @ feature
        distances, indices = similarity.topk(k, largest=True, sorted=True)
        one_hot = F.one_hot(train_labels[indices], num_classes).float()  # KxC
        probs = (one_hot * distances.div(T).exp().view(-1, 1)).sum(0)
        predictions.append(probs.argmax())
    return torch.stack(predictions)


def test_knn_matches_dino_reference():
    g = torch.Generator().manual_seed(1)
    train = torch.randn(200, 16, generator=g)
    labels = torch.randint(0, 5, (200,), generator=g)
    test = torch.randn(37, 16, generator=g)
    for k, T in [(1, 0.07), (5, 0.07), (20, 0.5), (200, 0.1)]:
        expected = dino_knn_reference(train, labels, test, k, T, 5)
        got = knn_classify(train, labels, test, k=k, temperature=T, chunk_size=8)
        assert torch.equal(got, expected), (k, T)


def test_knn_separable_clusters_and_random_labels():
    x, y, test_x, test_y = train_test_split(*clusters(150, 10, 32))
    assert knn_accuracy(x, y, test_x, test_y) > 0.99
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    assert 0.04 < knn_accuracy(x, shuffled, test_x, test_y) < 0.2  # chance is 0.1


def test_knn_small_temperature_and_large_k():
    x, y = clusters(20, 3, 8, spread=0.5)
    train_x, train_y, test_x, _ = train_test_split(x, y)
    cosine = F.normalize(test_x, dim=1) @ F.normalize(train_x, dim=1).T
    nearest_label = train_y[cosine.argmax(dim=1)]
    assert torch.equal(knn_classify(train_x, train_y, test_x, k=1), nearest_label)
    # T -> 0 with every sample a neighbour: the nearest one outweighs the rest, and the
    # weights exp(sim / T) must not overflow
    pred = knn_classify(train_x, train_y, test_x, k=10_000, temperature=1e-4)  # k capped at N
    assert torch.equal(pred, nearest_label)


def test_knn_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="feature dims"):
        knn_classify(torch.randn(5, 3), torch.zeros(5, dtype=torch.long), torch.randn(2, 4))
    with pytest.raises(ValueError, match="labels"):
        knn_classify(torch.randn(5, 3), torch.zeros(4, dtype=torch.long), torch.randn(2, 3))


# ---------------------------------------------------------------------------- linear probe

def test_linear_probe_separable_and_repeatable():
    # the margin between two centres is about 5 noise standard deviations
    x, y, test_x, test_y = train_test_split(*clusters(130, 10, 64, spread=0.15))
    result = linear_probe(x, y, test_x, test_y, epochs=30, batch_size=256)
    assert result["top1"] > 0.95 and result["train_top1"] > 0.95
    assert linear_probe(x, y, test_x, test_y, epochs=30, batch_size=256) == result


# ---------------------------------------------------------------------------- collapse

def test_std_of_l2_normalized():
    assert std_of_l2_normalized(torch.ones(100, 32) * 3) == 0
    d = 64
    z = torch.randn(4000, d, generator=torch.Generator().manual_seed(0))
    assert std_of_l2_normalized(z) == pytest.approx(1 / math.sqrt(d), rel=0.02)


def orthogonal_rank_r(n, d, r, seed=0):
    """(n, d) data with r equal singular values: orthonormal columns times orthonormal rows."""
    g = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(d, r, generator=g, dtype=torch.float64))[0]
    return (u @ v.T).float()


@pytest.mark.parametrize("r", [1, 3, 10])
def test_effective_rank_of_rank_r_data(r):
    assert effective_rank(orthogonal_rank_r(200, 32, r)) == pytest.approx(r, rel=1e-3)
    g = torch.Generator().manual_seed(r)
    gaussian = torch.randn(2000, r, generator=g) @ torch.randn(r, 32, generator=g)
    assert r * 0.7 <= effective_rank(gaussian) <= r + 1e-3  # unequal spectrum: at most r


def test_effective_rank_of_collapsed_embeddings_is_one():
    assert effective_rank(torch.ones(50, 16)) == pytest.approx(1, abs=1e-4)  # constant
    a, b = torch.randn(50, 1), torch.randn(1, 16)
    assert effective_rank(a @ b) == pytest.approx(1, abs=1e-4)  # noise-free rank 1
    assert math.isfinite(effective_rank(torch.zeros(5, 4)))


def test_singular_values_centred_and_descending():
    z = torch.randn(100, 8) + 5.0
    s = singular_values(z)
    assert torch.all(s[:-1] >= s[1:])
    cov = torch.cov(z.T, correction=0)
    eig = torch.linalg.eigvalsh(cov).flip(0).clamp_min(0)
    torch.testing.assert_close(s, (eig * len(z)).sqrt(), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(singular_values(torch.ones(10, 4) * 7), torch.zeros(4))


def test_alignment_closed_forms():
    z = torch.randn(20, 8)
    assert alignment(z, z).item() == 0
    assert alignment(z, 3 * z).item() == pytest.approx(0, abs=1e-6)  # scale-free (normalised)
    assert alignment(z, -z).item() == pytest.approx(4)  # antipodal: ||2x||^2
    assert alignment(z, -z, alpha=1).item() == pytest.approx(2)


def test_uniformity_closed_forms():
    assert uniformity(torch.ones(10, 4)).item() == pytest.approx(0, abs=1e-7)  # collapsed
    assert uniformity(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).item() == pytest.approx(-8)
    # uniform on the circle: E exp(-2 |x - y|^2) = E exp(-4 + 4 cos theta) = e^-4 I0(4)
    n = 1000
    theta = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    circle = torch.stack((theta.cos(), theta.sin()), dim=1)
    expected = -4 + math.log(torch.special.i0(torch.tensor(4.0, dtype=torch.float64)).item())
    # the pairs exclude i == j, whose term is e^0 = 1: correct the discrete mean for it
    exact = math.log((math.exp(expected) * n - 1) / (n - 1))
    assert uniformity(circle).item() == pytest.approx(exact, abs=1e-6)
    assert exact == pytest.approx(expected, abs=5e-3)  # the self-pair term is O(1/n)


def test_collapse_report():
    z = torch.randn(300, 16)
    report = collapse_report(z, z + 0.01 * torch.randn_like(z))
    assert report["reference_std"] == pytest.approx(0.25)
    assert set(report) == {"std", "reference_std", "effective_rank", "uniformity",
                           "singular_values", "alignment"}
    assert report["std"] == pytest.approx(0.25, rel=0.1)
    assert 13 < report["effective_rank"] <= 16
    assert report["alignment"] < 1e-2
    collapsed = collapse_report(torch.ones(300, 16))
    assert collapsed["std"] == 0 and collapsed["effective_rank"] == pytest.approx(1, abs=1e-4)
    assert "alignment" not in collapsed


# ---------------------------------------------------------------------------- clustering

def test_linear_assignment_matches_brute_force():
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (3, 3), (4, 6), (6, 4), (5, 5)]:
        cost = rng.integers(0, 10, size=(n, m)).astype(float)  # integer costs: many ties
        rows, cols = linear_assignment(cost)
        assert len(rows) == min(n, m) and len(set(cols)) == len(cols)
        if n <= m:
            best = min(cost[range(n), list(p)].sum() for p in itertools.permutations(range(m), n))
        else:
            best = min(cost[list(p), range(m)].sum() for p in itertools.permutations(range(n), m))
        assert cost[rows, cols].sum() == best


def test_linear_assignment_matches_scipy():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(1)
    cost = rng.random((40, 50))
    rows, cols = linear_assignment(cost)
    ref_rows, ref_cols = optimize.linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum())


def test_cluster_accuracy():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (200,), generator=g)
    relabel = torch.tensor([3, 0, 4, 1, 2])
    assert cluster_accuracy(relabel[labels], labels) == 1.0
    noisy = labels.clone()
    noisy[:40] = torch.randint(0, 5, (40,), generator=g)
    acc = cluster_accuracy(noisy, labels)
    assert cluster_accuracy(relabel[noisy], labels) == acc  # invariant to a permutation
    # with 40 of 200 samples relabelled at random, the identity is still the best map
    assert acc == pytest.approx((noisy == labels).float().mean().item())
    # more clusters than classes: unmatched clusters count as errors
    assert cluster_accuracy(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1])) == 0.5
    assert cluster_accuracy(np.array([7, 7, 9]), np.array([2, 2, 2])) == pytest.approx(2 / 3)


def test_nmi():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (20_000,), generator=g)
    assert nmi(labels, labels) == pytest.approx(1.0)
    assert nmi((labels + 3) % 10, labels) == pytest.approx(1.0)
    independent = torch.randint(0, 10, (20_000,), generator=g)
    assert nmi(independent, labels) < 0.01
    assert nmi(np.zeros(5), np.zeros(5)) == 1.0
    # by hand: H(U) = ln 2, H(V) = 1.5 ln 2, I = ln 2 -> 2 / 2.5
    assert nmi(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 2])) == pytest.approx(0.8)
    assert nmi(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) == pytest.approx(0.0)
