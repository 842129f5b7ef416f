"""AMDIM (sslkit.methods.amdim): training, the `scales` switch, and a clear refusal of
backbones without stage maps (the ViT)."""

import math

import pytest
import torch

from sslkit.losses.amdim import amdim_loss_multiscale
from sslkit.methods.amdim import AMDIM, AMDIMConfig
from sslkit.models import build_backbone

from .helpers import random_views, small_model, smoke_run

views = random_views


def small(**kw) -> AMDIM:
    return small_model(AMDIM, AMDIMConfig, n_rkhs=16, **kw)


def test_trains_at_smoke_with_finite_terms_and_no_collapse(shapes32):
    result = smoke_run("amdim", shapes32)
    for h in result.history:
        terms = ("nce", "reg", "nce_g2l_last", "nce_g2l_prev", "nce_l2l")
        assert set(terms) <= h.keys() and all(math.isfinite(h[k]) for k in terms)
        assert h["nce"] == pytest.approx(
            h["nce_g2l_last"] + h["nce_g2l_prev"] + h["nce_l2l"], rel=1e-4)
        assert h["loss"] == pytest.approx(h["nce"] + h["reg"], rel=1e-4)
    d = result.config.method_args["n_rkhs"]
    assert result.history[-1]["std_l2"] > 0.5 / math.sqrt(d)


def test_a_vit_backbone_is_refused_clearly():
    with pytest.raises(ValueError, match="forward_stages.*CNN backbone"):
        AMDIM(build_backbone("vit_tiny", image_size=16, depth=1), AMDIMConfig(n_rkhs=16))


@pytest.mark.parametrize("scales, names", [
    (("last",), ["last"]),
    (("last", "prev"), ["prev", "last"]),
    (("last", "prev", 1), ["stage1", "prev", "last"]),
])
def test_scales_choose_the_local_maps_and_name_the_terms(scales, names):
    m = small(scales=scales)
    assert list(m.local_heads) == names  # shallow to deep
    out = m(views(), step=0)
    assert [k for k in out.terms if k.startswith("nce_g2l_")] == [f"nce_g2l_{n}" for n in names]
    out.loss.backward()
    # every scale's head, and through it the backbone, is trained
    for name in names:
        assert all(p.grad is not None for p in m.local_heads[name].parameters())
    assert all(p.grad is not None for p in m.backbone.parameters())


def test_bad_scales_are_refused():
    with pytest.raises(ValueError, match="unknown AMDIM scale"):
        small(scales=("first",))
    with pytest.raises(ValueError, match="distinct stages"):
        small(scales=("last", -1))


def test_forward_is_the_multiscale_loss_of_the_projected_features():
    m = small(local_to_local=False)
    x_a, x_b = views()
    out = m([x_a, x_b], step=0)
    s_a, s_b = m.backbone.forward_stages(x_a), m.backbone.forward_stages(x_b)
    g_a = m.global_head(s_a[-1].mean(dim=(2, 3), keepdim=True)).flatten(1)
    g_b = m.global_head(s_b[-1].mean(dim=(2, 3), keepdim=True)).flatten(1)
    heads = [(m.local_heads["prev"], -2), (m.local_heads["last"], -1)]
    expected = amdim_loss_multiscale(g_a, g_b, [h(s_a[i]) for h, i in heads],
                                     [h(s_b[i]) for h, i in heads], local_to_local=False)
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.embedding, g_a.detach())
