import math

import pytest
import torch

from sslkit.losses import self_classifier_loss, siamese_ce_loss

from .helpers import assert_same_values_and_grads, random_inputs, sgd_losses
from .reference import SelfClassifierLoss


def _logits(n=12, c=5, n_views=2, seed=0):
    return random_inputs(n_views, n, c, seed)


def _assignments(classes, c, n_views=2):
    """Cosine logits (in [-1, 1], as the official model's) that put sample n in class
    classes[n] with near certainty (p = 0.9999 at row_tau 0.1), in every view."""
    one_hot = torch.eye(c, dtype=torch.float64)[classes]
    return [one_hot.clone() for _ in range(n_views)]


@pytest.mark.parametrize("n_views", [2, 4])
def test_matches_official_values_and_gradients(n_views):
    # two classifier heads, as the official model has; official = mean over the heads
    heads = [_logits(n_views=n_views, seed=0), _logits(c=7, n_views=n_views, seed=1)]
    ours = sum(self_classifier_loss(views) for views in heads) / len(heads)
    inputs = [view for views in heads for view in views]
    ref = SelfClassifierLoss()(heads)  # official defaults: row 0.1, col 0.05, eps 1e-12
    assert_same_values_and_grads(ours, ref, inputs)


def test_matches_official_at_other_temperatures():
    views = _logits(n_views=3)
    ours = self_classifier_loss(views, row_tau=0.3, col_tau=0.2, eps=1e-8)
    ref = SelfClassifierLoss(row_tau=0.3, col_tau=0.2, eps=1e-8)([views])
    torch.testing.assert_close(ours, ref)


def test_collapse_to_one_class_costs_log_c_but_is_free_for_the_naive_loss():
    n, c = 12, 4
    collapsed = _assignments(torch.zeros(n, dtype=torch.long), c)
    # uniform prior: every class gets p(y|x) = 1/C whatever the logits, so the loss is log C
    torch.testing.assert_close(self_classifier_loss(collapsed),
                               torch.tensor(math.log(c), dtype=torch.float64))
    # plain cross-entropy: a confident, consistent prediction is a minimum, collapsed or not
    assert siamese_ce_loss(collapsed) < 0.01


def test_balanced_confident_classes_are_a_minimum():
    n, c = 12, 4
    balanced = _assignments(torch.arange(n) % c, c)
    assert self_classifier_loss(balanced) < 1e-3
    assert siamese_ce_loss(balanced) < 0.01


def test_classes_used_counts_the_argmax_classes():
    _, terms = self_classifier_loss(_assignments(torch.tensor([0, 0, 2, 2, 3, 3]), 5),
                                    return_terms=True)
    assert terms["classes_used"] == 3
    _, terms = siamese_ce_loss(_assignments(torch.zeros(6, dtype=torch.long), 5),
                               return_terms=True)
    assert terms["classes_used"] == 1


def test_siamese_ce_is_plain_cross_entropy():
    l1, l2 = _logits()
    p1, p2 = (l1 / 0.1).softmax(dim=1), (l2 / 0.1).softmax(dim=1)
    expected = -0.5 * ((p1 * (l2 / 0.1).log_softmax(dim=1)).sum(dim=1).mean()
                       + (p2 * (l1 / 0.1).log_softmax(dim=1)).sum(dim=1).mean())
    torch.testing.assert_close(siamese_ce_loss([l1, l2]), expected)


def test_symmetric_in_the_two_views():
    l1, l2 = _logits()
    torch.testing.assert_close(self_classifier_loss([l1, l2]), self_classifier_loss([l2, l1]))


def test_gradcheck():
    views = _logits(n=4, c=3)
    assert torch.autograd.gradcheck(lambda *v: self_classifier_loss(list(v)), views)
    assert torch.autograd.gradcheck(lambda *v: siamese_ce_loss(list(v)), views)


@pytest.mark.parametrize("loss_fn", [self_classifier_loss, siamese_ce_loss])
def test_sgd_steps_lower_the_loss(loss_fn):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    w = (0.3 * torch.randn(10, 8, generator=g)).requires_grad_()  # 8 classes

    def two_views_loss():
        return loss_fn([(x + 0.5 * torch.randn(x.shape, generator=g)) @ w for _ in range(2)])

    losses = sgd_losses(two_views_loss, [w], lr=0.1, steps=30)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("loss_fn", [self_classifier_loss, siamese_ce_loss])
def test_needs_two_views_in_a_list(loss_fn):
    l1, l2 = _logits()
    with pytest.raises(ValueError, match=r"at least 2 view\(s\) in logits; got 1"):
        loss_fn([l1])
    with pytest.raises(TypeError, match=r"list of \(N, K\) tensors"):
        loss_fn(torch.stack([l1, l2]))
    with pytest.raises(ValueError, match=r"logits\[0\] and logits\[1\] of the same shape"):
        loss_fn([l1, l2[:, :3]])


def test_batch_of_one_raises_a_helpful_error():
    with pytest.raises(ValueError, match=r"self_classifier_loss needs at least 2 samples per "
                                         r"batch to normalise the class probabilities over "
                                         r"the batch; got N=1.*batch size >= 2"):
        self_classifier_loss([torch.randn(1, 5), torch.randn(1, 5)])
