"""Augmented autoencoder (sslkit.methods.aae): training, the reconstruction loss going down,
the `augment` switch (plain autoencoder), the code used for retrieval, and bad inputs."""

import math

import pytest
import torch

from sslkit.losses.aae import aae_loss
from sslkit.methods.aae import AAE, AAEConfig
from sslkit.train.optim import build_optimizer

from .helpers import random_views, small_model, smoke_run

views = random_views  # (augmented, clean)


def small(**kw) -> AAE:
    return small_model(AAE, AAEConfig, **{"latent_dim": 8, "image_size": 16,
                                          "decoder_widths": (16, 8, 8), **kw})


def test_trains_at_smoke_with_finite_loss_and_a_spread_code(shapes32):
    result = smoke_run("aae", shapes32)
    for h in result.history:
        assert {"mse", "std_l2", "rank"} <= h.keys() and math.isfinite(h["loss"])
        assert h["loss"] == pytest.approx(h["mse"])  # plain L2 by default
    d = result.config.method_args["latent_dim"]
    assert result.history[-1]["std_l2"] > 0.5 / math.sqrt(d)


def test_reconstruction_loss_goes_down_over_a_few_steps(shapes32):
    """The loop's own steps on the shapes data: 20 steps at a 10x smoke lr lower the L2 by
    a clear margin (measured 1.13 -> 0.89, averages of the first and last three steps)."""
    result = smoke_run("aae", shapes32, steps=20, eval_train_size=64, eval_test_size=64,
                       log_every=1, warmup_steps=0, lr=0.02)
    losses = [h["loss"] for h in result.history]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, losses


@pytest.mark.parametrize("augment", [True, False])
def test_input_is_the_augmented_view_unless_augment_is_off(augment):
    augmented, clean = views()
    m = small(augment=augment).eval()  # eval: BN statistics do not depend on the batch
    out = m([augmented, clean], step=0)
    x = augmented if augment else clean
    expected = aae_loss(m.decoder(m.encode(x)), clean)  # the target is always the clean view
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.embedding, m.encode(x).detach())


def test_encode_gives_the_latent_code_and_gradients_reach_the_encoder():
    m = small()
    x_a, x_b = views()
    assert m.encode(x_a).shape == (8, 8)
    m([x_a, x_b], step=0).loss.backward()
    assert all(p.grad is not None for p in m.backbone.parameters())
    assert all(p.grad is not None for p in m.decoder.parameters())


def test_bootstrap_ratio_averages_the_hardest_pixels():
    m = small(bootstrap_ratio=4)
    out = m(views(), step=0)
    assert {"mse", "bootstrap_mse"} <= out.terms.keys()
    assert out.terms["bootstrap_mse"] > out.terms["mse"]  # the top quarter of the errors


def test_wrong_image_size_and_missing_clean_view_are_refused():
    m = small()
    with pytest.raises(ValueError, match="'image_size': 32"):
        m(views(sizes=(32, 32)), step=0)
    with pytest.raises(ValueError, match="augmented, clean"):
        m(views()[:1], step=0)


def test_a_fixed_batch_is_fitted(shapes32):
    """Plain optimisation on one batch: the L2 falls well below its start (1.69 -> 0.40)."""
    m = small()
    x = shapes32[0].images[:16].float() / 255
    x = torch.nn.functional.interpolate(x, size=16, mode="bilinear", antialias=True)
    x = (x - 0.5) / 0.25
    opt = build_optimizer("adamw", m, lr=3e-3, weight_decay=0.0)
    losses = []
    for step in range(25):
        out = m([x, x], step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
