"""OBoW (sslkit.methods.obow): training through the loop, the teacher's stop-gradient, the
views, the vocabulary state changing only after the optimiser step, bad configurations."""

import math
from functools import partial

import pytest
import torch

from sslkit.augment import build_recipe
from sslkit.augment.recipes import recipe_views
from sslkit.methods.obow import SPEC, OBoW, OBoWConfig
from sslkit.models import build_backbone
from sslkit.train import TrainConfig, train
from sslkit.train.loop import set_up
from sslkit.train.optim import build_optimizer

from .helpers import (assert_float32_loss_under_bf16, assert_not_optimised, random_views,
                      small_model)

# the teacher's view, the student's global crop, then its local crops
views = partial(random_views, sizes=(32, 32, 16, 16))


def small(**kw) -> OBoW:
    return small_model(OBoW, OBoWConfig, **{"num_words": 32, "n_local": 2, **kw})


def vocab_state(m: OBoW) -> list[torch.Tensor]:
    return [b.detach().clone() for v in m.vocabularies for b in v.buffers()]


def test_trains_three_steps_at_smoke_and_the_vocabulary_moves():
    cfg = TrainConfig(method="obow", profile="smoke", steps=3)
    before = set_up(cfg).method  # the same seed: the state training starts from
    result = train(cfg, progress=False)
    for h in result.history:
        assert h["loss"] == pytest.approx(h["kl_global"] + h["kl_local"], rel=1e-4)
        assert all(math.isfinite(h[k]) for k in ("target_entropy", "perplexity_batch",
                                                 "perplexity_image", "min_distance"))
    k, batch = result.config.method_args["num_words"], result.config.batch_size
    written = 3 * batch  # the queue's oldest words, one feature per image and step
    for v0, v in zip(before.vocabularies, result.method.vocabularies):
        assert int(v.ptr) == written % k and float(v.min_distance_mean) != 0.5
        assert (v.words[:written] != v0.words[:written]).any(dim=1).all()
        torch.testing.assert_close(v.words[written:], v0.words[written:])
    assert 0.0 <= result.metrics["knn_top1"] <= 1.0


def test_views_teacher_gets_no_colour_changes_and_the_student_multi_crop():
    m = small(n_local=3)
    specs = recipe_views(m.recipe, 32, **m.recipe_args)
    assert [s.size for s in specs] == [32, 32, 16, 16, 16]
    assert specs[0].color_jitter == specs[0].grayscale == 0.0 and specs[0].flip == 0.5
    assert all(s.color_jitter == 0.8 and s.grayscale == 0.2 for s in specs[1:])
    assert all(s.solarize == s.blur == 0.0 for s in specs)
    crops = build_recipe(m.recipe, 32, (0.5,) * 3, (0.25,) * 3, **m.recipe_args)(
        torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert len(crops) == 5


def test_no_gradient_reaches_the_teacher_or_the_vocabulary():
    m = small()
    m.on_train_start(10)
    m(views(), step=0).loss.backward()
    assert all(not p.requires_grad and p.grad is None for p in m.teacher_backbone.parameters())
    assert all(not b.requires_grad for v in m.vocabularies for b in v.buffers())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in [*m.backbone.parameters(), *m.generators.parameters()])
    opt = build_optimizer("sgd", m, lr=0.1, weight_decay=5e-4)
    assert_not_optimised(opt, m.teacher_backbone.parameters())


def test_vocabulary_changes_after_the_optimiser_step_not_in_forward():
    m = small()
    m.on_train_start(10)
    start = vocab_state(m)
    out = m(views(), step=0)
    assert all(torch.equal(a, b) for a, b in zip(start, vocab_state(m)))
    assert out.embedding.shape == (8, 16) and set(out.terms) >= {"kl_global", "kl_local"}
    m.after_optimizer_step(0)
    words, ptr = m.vocabularies[0].words, int(m.vocabularies[0].ptr)
    assert ptr == 8 and not torch.equal(words[:8], start[0][:8])
    assert torch.equal(words[8:], start[0][8:])
    assert "vocabularies.0.words" in m.state_dict()  # resumed runs keep the queue


def test_one_kind_of_crop_without_local_crops():
    m = small(n_local=0, levels=(-1,))
    m.on_train_start(3)
    out = m(views(sizes=(32, 32)), step=0)
    assert set(out.terms) >= {"kl_global"} and "kl_local" not in out.terms
    torch.testing.assert_close(out.loss.detach(), out.terms["kl_global"])


def test_bf16_autocast_keeps_the_loss_in_float32():
    m = small()
    m.on_train_start(3)
    assert_float32_loss_under_bf16(m, views())


def test_bad_configs_and_inputs_raise():
    with pytest.raises(ValueError, match="forward_stages.*CNN backbone"):
        OBoW(build_backbone("vit_tiny", image_size=16, depth=1), OBoWConfig())
    with pytest.raises(ValueError, match="stage indices"):
        small(levels=(4,))
    with pytest.raises(ValueError, match="n_local"):
        small(n_local=-1)
    with pytest.raises(RuntimeError, match="on_train_start"):
        small()(views(), 0)
    m = small()
    m.on_train_start(3)
    with pytest.raises(ValueError, match="at least one student crop"):
        m(views()[:1], 0)
    with pytest.raises(ValueError, match="nothing left without its border"):
        m(views(sizes=(8, 8, 4, 4)), 0)  # 8 px: the last stage is 1x1


def test_every_profile_has_defaults():
    assert set(SPEC.train_defaults) == {"smoke", "cpu", "gpu"}
    assert SPEC.train_defaults["cpu"]["view_size"] == 32  # 4x4 last stage, 16 px local crops
