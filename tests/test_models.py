"""Backbones, heads and decoder: shapes, parameter counts, normalisation variants, ViT attention."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.models import (BACKBONES, ConvDecoder, DINOHead, WSConv2d, build_backbone, mlp,
                           vit_tiny)
from sslkit.models.vit import attention_iou, attention_masks

OUT_DIMS = {"smallcnn": 256, "resnet18": 512, "resnet50": 2048, "vit_tiny": 192, "vit_micro": 96}
# (low, high) parameter counts; CIFAR ResNet-18 has 11,168,832 as in solo-learn
PARAMS = {"smallcnn": (0.3e6, 0.5e6), "resnet18": (11.1e6, 11.2e6),
          "resnet50": (23.4e6, 23.6e6), "vit_tiny": (5.3e6, 5.5e6), "vit_micro": (0.45e6, 0.47e6)}
STAGES = {
    "smallcnn": [(32, 32), (64, 16), (128, 8), (256, 4)],
    "resnet18": [(64, 32), (128, 16), (256, 8), (512, 4)],
    "resnet50": [(256, 32), (512, 16), (1024, 8), (2048, 4)],
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_output_shape_and_params(name):
    model = build_backbone(name)
    assert model.out_dim == OUT_DIMS[name]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, OUT_DIMS[name])
    low, high = PARAMS[name]
    assert low < sum(p.numel() for p in model.parameters()) < high


@pytest.mark.parametrize("name", ["smallcnn", "resnet18", "resnet50"])
def test_forward_stages(name):
    model = build_backbone(name).eval()
    x = torch.randn(2, 3, 32, 32)
    stages = model.forward_stages(x)
    assert [(s.shape[1], s.shape[2]) for s in stages] == STAGES[name]
    assert all(s.shape[2] == s.shape[3] and s.shape[0] == 2 for s in stages)
    assert model.stage_dims == tuple(c for c, _ in STAGES[name])
    torch.testing.assert_close(model(x), stages[-1].mean(dim=(2, 3)))


def test_unknown_names_raise_listing_valid_ones():
    with pytest.raises(ValueError, match="smallcnn, resnet18, resnet50, vit_tiny"):
        build_backbone("resnet34")
    with pytest.raises(ValueError, match="bn, gn_ws, none"):
        build_backbone("smallcnn", norm="ln")


def test_resnet_imagenet_stem_above_64px():
    model = build_backbone("resnet18", image_size=96)
    assert model.conv1.kernel_size == (7, 7)
    assert model.forward_stages(torch.randn(1, 3, 96, 96))[0].shape[-1] == 24  # 96 / 4


@pytest.mark.parametrize("name", ["smallcnn", "resnet18"])
def test_gn_ws_has_no_batch_statistics(name):
    model = build_backbone(name, norm="gn_ws")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(m, WSConv2d) for m in convs)
    # one sample's output does not depend on the rest of the batch, even in train mode
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(model(x)[:1], model(x[:1]), rtol=1e-4, atol=1e-5)


def test_ws_conv_standardises_weights_in_forward():
    conv = WSConv2d(4, 6, 3, padding=1)
    nn.init.normal_(conv.weight)  # var 1: eps = 1e-5 is negligible next to it
    x = torch.randn(2, 4, 8, 8)
    w = conv.weight
    expected = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / torch.sqrt(
        w.var(dim=(1, 2, 3), keepdim=True, unbiased=False) + conv.eps)
    torch.testing.assert_close(conv(x), F.conv2d(x, expected, conv.bias, padding=1))
    standardised = conv.standardized_weight()
    torch.testing.assert_close(standardised.mean(dim=(1, 2, 3)), torch.zeros(6), atol=1e-6,
                               rtol=0)
    torch.testing.assert_close(standardised.var(dim=(1, 2, 3), unbiased=False), torch.ones(6),
                               atol=1e-3, rtol=0)


def test_gn_ws_network_is_invariant_to_conv_weight_scale_and_shift():
    model = build_backbone("smallcnn", norm="gn_ws")
    x = torch.randn(2, 3, 32, 32)
    before = model(x)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, WSConv2d):
                m.weight.mul_(3.0).add_(0.5)
    torch.testing.assert_close(model(x), before, rtol=1e-3, atol=1e-4)
    # and the gradient reaches the raw (unstandardised) weights
    model(x).sum().backward()
    assert model.stages[0][0].weight.grad is not None


@pytest.mark.parametrize("name", ["smallcnn", "resnet18"])
def test_norm_none_has_no_norm_layers(name):
    model = build_backbone(name, norm="none")
    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)
    assert not any(isinstance(m, norms) for m in model.modules())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, OUT_DIMS[name])


def test_vit_local_crops_and_attention_shapes():
    model = vit_tiny(depth=2).eval()
    for size, grid in [(32, 8), (16, 4)]:
        x = torch.randn(2, 3, size, size)
        assert model(x).shape == (2, 192)
        attn = model.get_last_selfattention(x)
        assert attn.shape == (2, 3, 1 + grid**2, 1 + grid**2)
        torch.testing.assert_close(attn.sum(dim=-1), torch.ones(2, 3, 1 + grid**2))
        maps = model.attention_maps(x)
        assert maps.shape == (2, 3, grid, grid)
        torch.testing.assert_close(maps, attn[:, :, 0, 1:].reshape(2, 3, grid, grid))


def test_vit_default_is_dino_vit_tiny():
    model = build_backbone("vit_tiny")
    assert len(model.blocks) == 12 and model.num_heads == 3 and model.out_dim == 192
    assert model.pos_embed.shape == (1, 65, 192)  # 8 x 8 patches of 4 px + [CLS]


def test_vit_micro_preset_and_overrides():
    model = build_backbone("vit_micro")
    assert len(model.blocks) == 4 and model.num_heads == 3 and model.out_dim == 96
    assert model.attention_maps(torch.randn(2, 3, 32, 32)).shape == (2, 3, 8, 8)
    wider = build_backbone("vit_micro", dim=192, depth=2)  # keywords override the preset
    assert len(wider.blocks) == 2 and wider.out_dim == 192 and wider.num_heads == 3
    assert build_backbone("vit_tiny", dim=96, num_heads=4).num_heads == 4


def test_vit_pos_embedding_interpolation():
    model = vit_tiny(depth=1)
    assert model.interpolate_pos_encoding(8, 8) is model.pos_embed
    with torch.no_grad():
        model.pos_embed.fill_(0.25)
    pos = model.interpolate_pos_encoding(4, 6)  # non-square grids work too
    assert pos.shape == (1, 1 + 24, 192)
    torch.testing.assert_close(pos, torch.full_like(pos, 0.25))  # bicubic keeps constants
    with pytest.raises(ValueError, match="multiple of patch"):
        model(torch.randn(1, 3, 30, 30))


def test_vit_attention_weights_are_the_ones_forward_uses():
    model = vit_tiny(depth=1).eval()
    x = torch.randn(2, 3, 16, 16)
    tokens = model.prepare_tokens(x)
    block = model.blocks[0]
    attn = model.get_last_selfattention(x)  # Nxheadsx T x T
    h = block.norm1(tokens)
    n, t, c = h.shape
    v = block.attn.qkv(h).reshape(n, t, 3, 3, c // 3)[:, :, 2].transpose(1, 2)  # NxheadsxTxd
    explicit = block.attn.proj((attn @ v).transpose(1, 2).reshape(n, t, c))
    torch.testing.assert_close(block.attn(h), explicit, rtol=1e-4, atol=1e-5)


def test_mlp_structure():
    head = mlp([8, 16, 16, 4])
    kinds = [type(m) for m in head]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2 + [nn.Linear]
    assert head[0].bias is None and head[-1].bias is not None  # BN cancels hidden biases
    assert head(torch.randn(5, 8)).shape == (5, 4)

    plain = mlp([8, 16, 4], norm="none", bias_last=False, activation="gelu")
    assert [type(m) for m in plain] == [nn.Linear, nn.GELU, nn.Linear]
    assert plain[0].bias is not None and plain[-1].bias is None

    simsiam = mlp([8, 32, 32, 16], last_norm="bn_noaffine")
    assert isinstance(simsiam[-1], nn.BatchNorm1d) and not simsiam[-1].affine
    assert simsiam[-2].bias is None

    gn = mlp([8, 32, 4], norm="gn")
    assert isinstance(gn[1], nn.GroupNorm)


def test_mlp_gn_uses_no_batch_statistics():
    head = mlp([8, 32, 4], norm="gn").train()
    x = torch.randn(6, 8)
    torch.testing.assert_close(head(x)[:2], head(x[:2]))


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least"):
        mlp([8])
    with pytest.raises(ValueError, match="unknown norm"):
        mlp([8, 4], norm="ln")
    with pytest.raises(ValueError, match="last_norm"):
        mlp([8, 4], last_norm="gn")
    with pytest.raises(ValueError, match="activation"):
        mlp([8, 4], activation="tanh")


def test_dino_head():
    head = DINOHead(32, 100, hidden_dim=64, bottleneck_dim=16)
    y = head(torch.randn(5, 32))
    assert y.shape == (5, 100)
    # unit-norm bottleneck times unit-norm prototypes: a cosine similarity in [-1, 1]
    assert y.abs().max() <= 1 + 1e-5
    weight = head.last_layer.weight
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(100))
    magnitude = head.last_layer.parametrizations.weight.original0
    assert not magnitude.requires_grad
    assert DINOHead(32, 10, norm_last_layer=False).last_layer.parametrizations.weight \
        .original0.requires_grad
    assert sum(isinstance(m, nn.Linear) for m in head.mlp) == 3  # DINO's 3-layer MLP


def test_conv_decoder():
    decoder = ConvDecoder(64)
    assert decoder(torch.randn(3, 64)).shape == (3, 3, 32, 32)
    assert ConvDecoder(64, image_size=16)(torch.randn(2, 64)).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="image_size"):
        ConvDecoder(64, image_size=96)


def test_backbones_train_a_step():
    model = build_backbone("smallcnn")
    decoder = ConvDecoder(model.out_dim)
    optimizer = torch.optim.Adam([*model.parameters(), *decoder.parameters()], lr=1e-3)
    x = torch.randn(8, 3, 32, 32)
    losses = []
    for _ in range(5):
        loss = F.mse_loss(decoder(model(x)), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] and math.isfinite(losses[-1])


def _shuffled_dbn_reference(z, order, groups):
    """Shuffled-DBN as the paper's pseudo-code (PatrickHua/FeatureDecorrelationSSL,
    models/utils/pseudo_code_for_paper.py), with the permutation given and float64."""
    d = z.shape[1]
    x = z.t()[order].t().reshape(-1, groups, d // groups)
    x = (x - x.mean(dim=0, keepdim=True)).transpose(0, 1)
    covs = x.transpose(1, 2).bmm(x) / x.shape[1]
    s, u = torch.linalg.eigh(covs)
    w = u.bmm(s.rsqrt().diag_embed()).bmm(u.transpose(1, 2))
    return x.bmm(w).transpose(1, 2).flatten(0, 1)[torch.argsort(order)].t()


@pytest.mark.parametrize("groups", [1, 4])
def test_shuffled_dbn_equals_the_official_pseudo_code_with_gradients(groups):
    from sslkit.models import shuffled_dbn

    z = torch.randn(64, 16, dtype=torch.float64, requires_grad=True)
    g = torch.Generator().manual_seed(3)
    order = torch.randperm(16, generator=torch.Generator().manual_seed(3))
    ours = shuffled_dbn(z, groups, generator=g, eps=0.0)
    ref = _shuffled_dbn_reference(z, order, groups)
    torch.testing.assert_close(ours, ref)
    w = torch.randn_like(ref)
    (g_ours,) = torch.autograd.grad((ours * w).sum(), z)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), z)
    torch.testing.assert_close(g_ours, g_ref)


def test_shuffled_dbn_whitens_each_group_and_defaults_to_groups_of_half_the_batch():
    from sslkit.models import shuffled_dbn

    mixed = torch.randn(256, 4) @ torch.randn(4, 32) + 0.01 * torch.randn(256, 32)
    out = shuffled_dbn(mixed.double(), generator=torch.Generator().manual_seed(0), eps=0.0)
    # ceil(2 * 32 / 256) = 1 group: the whole batch is whitened, covariance = identity
    torch.testing.assert_close(out.T @ out / 256, torch.eye(32, dtype=torch.float64),
                               atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="divisors of 32"):
        shuffled_dbn(mixed, 5)
    with pytest.raises(ValueError, match="more than 16 samples"):
        shuffled_dbn(mixed[:16], 1)


def _official_threshold(maps: torch.Tensor, patch: int, threshold: float) -> torch.Tensor:
    """facebookresearch/dino visualize_attention.py's `--threshold` masks, one image at a
    time: maps (N, heads, h, w) -> (N, heads, h*p, w*p) bool."""
    out = []
    for image in maps:
        nh, h, w = image.shape
        attentions = image.reshape(nh, -1).clone()
        val, idx = torch.sort(attentions)
        val /= torch.sum(val, dim=1, keepdim=True)
        th_attn = torch.cumsum(val, dim=1) > (1 - threshold)
        idx2 = torch.argsort(idx)
        for head in range(nh):
            th_attn[head] = th_attn[head][idx2[head]]
        th_attn = th_attn.reshape(nh, h, w).float()
        out.append(F.interpolate(th_attn[None], scale_factor=patch, mode="nearest")[0] > 0.5)
    return torch.stack(out)


def test_attention_masks_equal_the_official_threshold():
    maps = torch.rand(3, 2, 8, 8).softmax(dim=-1)
    for fraction in (0.6, 0.3):
        torch.testing.assert_close(attention_masks(maps, 4, fraction),
                                   _official_threshold(maps, 4, fraction))
    keep = attention_masks(maps, 4)
    assert keep.shape == (3, 2, 32, 32) and keep.dtype == torch.bool
    with pytest.raises(ValueError, match="share of attention mass"):
        attention_masks(maps, 4, fraction=0.0)


class _FixedAttention(nn.Module):
    """A stand-in ViT whose [CLS] attention is all on the top-left 4 px patch."""

    patch_size = 4

    def attention_maps(self, x):
        maps = torch.zeros(x.shape[0], 2, 8, 8)
        maps[..., 0, 0] = 1.0
        return maps


def test_attention_iou_closed_form_and_bad_masks():
    x = torch.zeros(2, 3, 32, 32)
    masks = torch.zeros(2, 32, 32, dtype=torch.bool)
    masks[0, :4, :4] = True   # exactly the attended patch: IoU 1
    masks[1, :8, :8] = True   # 4 patches, one attended: IoU 16 / 64
    iou = attention_iou(_FixedAttention(), x, masks)
    torch.testing.assert_close(iou, torch.tensor([[1.0, 1.0], [0.25, 0.25]]))
    with pytest.raises(ValueError, match="masks must be bool"):
        attention_iou(_FixedAttention(), x, masks.float())
    with pytest.raises(ValueError, match="masks must be bool"):
        attention_iou(_FixedAttention(), x, masks[:1])
