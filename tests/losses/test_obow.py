"""OBoW loss and targets: the official builder_obow.py (values, gradients, the vocabulary's
update), closed forms, the stop-gradient, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from sslkit.losses.obow import bow_perplexity, bow_target, obow_loss, word_distances
from sslkit.methods.obow import OBoW, OBoWConfig, Vocabulary, WeightGenerator
from sslkit.models import build_backbone

from .reference_obow import BoWExtractor, BoWPredictor, momentum_alpha, total_loss

D, K, N = 6, 12, 4


def _generators(ref: BoWPredictor, in_dims) -> list[WeightGenerator]:
    """Ours, with the reference's weights (the same layers in the same order)."""
    ours = [WeightGenerator(c, D).double() for c in in_dims]
    for g, layers in zip(ours, ref.layers_w):
        g.mlp.load_state_dict({k: v for k, v in zip(g.mlp.state_dict(),
                                                     layers.state_dict().values())})
    return ours


def _setup(crops=(1, 3), in_dims=(5, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ref = BoWPredictor(num_channels_out=D, num_channels_in=in_dims, num_channels_hidden=2 * D,
                       kappa=5).double()
    words = [torch.randn(K, c, generator=g, dtype=torch.float64).clamp(min=0) for c in in_dims]
    targets = [F.normalize(torch.rand(N, K, generator=g, dtype=torch.float64) ** 4, p=1, dim=1)
               for _ in in_dims]
    # per kind of crop: (N, c, D) features, image by image like the official img_crops
    feats = [torch.randn(N, c, D, generator=g, dtype=torch.float64, requires_grad=True)
             for c in crops]
    return ref, words, targets, feats


@pytest.mark.parametrize("crops, in_dims", [((1, 3), (5, 7)), ((2,), (5,)), ((1, 5, 2), (4, 6))])
def test_matches_official_values_and_gradients(crops, in_dims):
    ref, words, targets, feats = _setup(crops, in_dims)
    ours_gen = _generators(ref, in_dims)
    # official: [(N * c) x D], image-major; ours: crop-major, torch.cat of the views
    ref_loss = total_loss(ref([f.reshape(-1, D) for f in feats], words), targets)
    weights = [gen(w) for gen, w in zip(ours_gen, words)]
    ours = obow_loss([f.transpose(0, 1).reshape(-1, D) for f in feats], weights, targets, 5.0)
    torch.testing.assert_close(ours, ref_loss, rtol=1e-12, atol=1e-12)
    ref_params = [p for gen in ref.layers_w for p in gen.parameters()]
    our_params = [p for gen in ours_gen for p in gen.parameters()]
    ref_grads = torch.autograd.grad(ref_loss, [*feats, *ref_params])
    our_grads = torch.autograd.grad(ours, [*feats, *our_params])
    assert len(ref_grads) == len(our_grads)
    for a, b in zip(our_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_kinds_of_crop_are_summed_levels_averaged_and_terms_add_up():
    _, words, targets, feats = _setup()
    w = [F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1) for _ in words]
    s = [f.transpose(0, 1).reshape(-1, D) for f in feats]
    loss, terms = obow_loss(s, w, targets, 5.0, return_terms=True)
    torch.testing.assert_close(loss.detach(), terms["kl_kind0"] + terms["kl_kind1"])
    # closed form: cross-entropy minus the target's entropy, by hand
    kind1 = torch.stack([
        (-(t.repeat(3, 1) * F.log_softmax(5.0 * s[1] @ wl.T, dim=1)).sum(1).mean()
         - torch.special.entr(t).sum(1).mean()) for wl, t in zip(w, targets)]).mean()
    torch.testing.assert_close(terms["kl_kind1"], kind1.detach())
    assert terms["target_entropy"] > 0 and 1.0 <= terms["perplexity_image"] <= K


def test_prediction_equal_to_the_target_gives_zero():
    # f = 0: every logit is 0, the prediction uniform; a uniform target is then matched
    w = [F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1)]
    uniform = [torch.full((N, K), 1.0 / K, dtype=torch.float64)]
    loss, terms = obow_loss([torch.zeros(2 * N, D, dtype=torch.float64)], w, uniform,
                            return_terms=True)
    assert abs(loss.item()) < 1e-12
    torch.testing.assert_close(terms["target_entropy"].item(), math.log(K))
    torch.testing.assert_close(terms["perplexity_batch"].item(), K * (1 + 1e-5 * K) ** -1,
                               rtol=1e-4, atol=0)


def test_no_gradient_reaches_the_targets():
    _, words, targets, feats = _setup()
    targets = [t.requires_grad_() for t in targets]
    w = [F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1).requires_grad_()
         for _ in words]
    obow_loss([f.reshape(-1, D) for f in feats], w, targets).backward()
    assert all(t.grad is None for t in targets)
    assert all(f.grad.abs().sum() > 0 for f in feats) and all(x.grad.abs().sum() > 0 for x in w)


def test_gradcheck():
    _, words, targets, feats = _setup(crops=(1, 2), in_dims=(3,))
    w = F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b, w: obow_loss([a.reshape(-1, D), b.reshape(-1, D)], [w], targets),
        (*feats, w))


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 10, generator=g)
    words = F.normalize(torch.randn(K, D, generator=g), dim=1)
    targets = [F.softmax(3.0 * x @ torch.randn(10, K, generator=g), dim=1)]
    w_student = (0.1 * torch.randn(10, D, generator=g)).requires_grad_()
    losses = []
    for _ in range(30):
        crops = torch.cat([x + 0.1 * torch.randn(x.shape, generator=g) for _ in range(2)])
        loss = obow_loss([crops @ w_student], [words], targets)
        (grad,) = torch.autograd.grad(loss, [w_student])
        with torch.no_grad():
            w_student -= 0.5 * grad
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_word_distances_are_squared_euclidean():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    words = torch.randn(K, 5, generator=g, dtype=torch.float64)
    d = word_distances(f, words)
    expected = torch.cdist(f.permute(0, 2, 3, 1).reshape(-1, 5), words) ** 2  # (N*H*W) x K
    torch.testing.assert_close(d.permute(0, 2, 3, 1).reshape(-1, K), expected)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_bow_of_features_that_are_words_lists_the_words_present(pool):
    # every position holds word 0 or word 2 exactly; the others are far: at a low
    # temperature the codes are one-hot and the BoW is the (normalised) words present
    words = 10.0 * torch.eye(4, dtype=torch.float64)
    f = words[torch.tensor([[0, 0], [2, 0]])].permute(2, 0, 1)[None]  # 1 x 4 x 2 x 2
    bow = bow_target(word_distances(f, words), 1.0, 10.0, pool=pool)
    expected = [0.5, 0.0, 0.5, 0.0] if pool == "max" else [0.75, 0.0, 0.25, 0.0]
    torch.testing.assert_close(bow[0], torch.tensor(expected, dtype=torch.float64))
    assert bow_perplexity(bow)[1].item() == pytest.approx(2.0 if pool == "max" else 1.755,
                                                          abs=1e-3)


def test_targets_and_vocabulary_update_match_official():
    """The method's teacher side (border crop, distances, EMA of the nearest-word distance
    taken in before the codes, soft codes, max-pool, L1) and its queue write after the step
    equal BoWExtractor's forward in training mode, on the same random positions."""
    torch.manual_seed(0)
    backbone = build_backbone("smallcnn", widths=(4, 6, 8, 8)).double()
    m = OBoW(backbone, OBoWConfig(num_words=16, levels=(0, 1), inv_delta=10.0)).double()
    m.on_train_start(10)
    refs = []
    for vocab in m.vocabularies:
        ref = BoWExtractor(16, vocab.words.shape[1], inv_delta=10.0).double()
        ref._embedding.copy_(vocab.words)
        refs.append(ref)
    image = torch.randn(8, 3, 16, 16, dtype=torch.float64)
    for step in range(3):  # the queue pointer goes 0, 8, 0, 8: the queue fills and restarts
        with torch.no_grad():
            stages = m.teacher_backbone.forward_stages(image)  # 16, 8, 4, 2 px at 16 px
        torch.manual_seed(step)
        ref_bows = [ref(stages[i])[0] for ref, i in zip(refs, (0, 1))]
        torch.manual_seed(step)
        bows = m._targets(image)
        m.after_optimizer_step(step)
        for ours, theirs in zip(bows, ref_bows):
            torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
        for vocab, ref in zip(m.vocabularies, refs):
            torch.testing.assert_close(vocab.words, ref._embedding, rtol=0, atol=0)
            assert int(vocab.ptr) == int(ref._embedding_ptr)
            torch.testing.assert_close(vocab.min_distance_mean, ref._min_distance_mean[0])


def test_teacher_ema_uses_the_next_iterations_alpha():
    torch.manual_seed(0)
    m = OBoW(build_backbone("smallcnn", widths=(4, 6, 8, 8)), OBoWConfig(num_words=16))
    m.on_train_start(10)
    with torch.no_grad():
        for p in m.backbone.parameters():
            p.add_(torch.randn_like(p))
    xi = [p.detach().clone() for p in m.teacher_backbone.parameters()]
    theta = [p.detach().clone() for p in m.backbone.parameters()]
    m.after_optimizer_step(3)  # official: the forward of iteration 4 moves the teacher
    alpha = momentum_alpha(0.99, 4, 10)
    for new, old, th in zip(m.teacher_backbone.parameters(), xi, theta):
        torch.testing.assert_close(new, alpha * old + (1 - alpha) * th)
    m.after_optimizer_step(9)  # after the last step there is no next forward: no move
    for new, old, th in zip(m.teacher_backbone.parameters(), xi, theta):
        torch.testing.assert_close(new, alpha * old + (1 - alpha) * th)


def test_queue_sample_is_the_local_average_clipped_to_small_maps():
    v = Vocabulary(8, 3, border=1, update_kernel=3)
    f = torch.randn(2, 3, 4, 4)
    assert v.crop(f).shape == (2, 3, 2, 2)
    # a 2x2 map: the 3x3 window is clipped to 2x2, one position: the global average
    torch.testing.assert_close(v.sample(v.crop(f)), v.crop(f).mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="nothing left without its border"):
        v.crop(torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="num_words must be >="):
        v.write(torch.randn(9, 3))


def test_bad_input_raises_clearly():
    _, words, targets, feats = _setup()
    w = [F.normalize(torch.randn(K, D, dtype=torch.float64), dim=1) for _ in words]
    s = [f.reshape(-1, D) for f in feats]
    with pytest.raises(TypeError, match="one .* tensor per kind of crop"):
        obow_loss(s[0], w, targets)
    with pytest.raises(ValueError, match="one tensor per BoW level"):
        obow_loss(s, w[:1], targets)
    with pytest.raises(ValueError, match="weights\\[0\\] has 11 words but targets\\[0\\] has 12"):
        obow_loss(s, [w[0][:11], w[1]], targets)
    with pytest.raises(ValueError, match="not a multiple of the 4 images"):
        obow_loss([s[0][:3]], w, targets)
    with pytest.raises(ValueError, match="features of size 5 .* weights have 6"):
        obow_loss([s[0][:, :5]], w, targets)
    with pytest.raises(ValueError, match="words have 4 channels but the feature map has 5"):
        word_distances(torch.randn(2, 5, 3, 3), torch.randn(K, 4))
    with pytest.raises(ValueError, match=r"feature map \(N, C, H, W\)"):
        word_distances(torch.randn(2, 5), torch.randn(K, 5))
    with pytest.raises(ValueError, match="unknown pool"):
        bow_target(torch.rand(2, K, 3, 3), 1.0, pool="sum")
    with pytest.raises(ValueError, match="min_distance_mean > 0"):
        bow_target(torch.rand(2, K, 3, 3), 0.0)
