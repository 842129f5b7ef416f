"""The `gpu` profile, checked on CPU before a GPU sees it.

Each method's gpu configuration (ResNet-18 or ViT-Tiny, its optimiser with the bias / norm
exclusions, paper-width heads, its method_args) is built as `train()` builds it and takes 2
steps at a tiny batch, in bf16 autocast where this CPU has bf16 kernels. Only the batch, the
number of steps and the kNN's size differ from the profile: the full-set kNN alone took
~150 s of a 2-step run.
"""

import math

import pytest
import torch

from sslkit.data import make_shapes
from sslkit.methods import METHODS, get_method
from sslkit.train import TrainConfig, train

BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.fixture(scope="module")
def data():
    return make_shapes(n=160, seed=0), make_shapes(n=32, seed=1)


def _batch(name: str) -> int:
    # W-MSE whitens sub-batches of w_size (128 in its gpu config): the batch must hold one
    return get_method(name).train_defaults["gpu"].get("method_args", {}).get("w_size") or 8


@pytest.mark.slow  # 25-35 s a method on 2 busy cores (ResNet-18, 4096-wide heads)
@pytest.mark.parametrize("name", sorted(METHODS))
def test_gpu_configuration_takes_two_steps_on_cpu(name, data):
    spec = get_method(name)
    cfg = TrainConfig(method=name, profile="gpu", steps=2, batch_size=_batch(name),
                      device="cpu", precision="bf16" if BF16 else "fp32", log_every=1,
                      eval_train_size=64, eval_test_size=32)
    run = train(cfg, train_data=data[0], test_data=data[1], progress=False)
    gpu = spec.train_defaults["gpu"]
    resolved = run.config
    assert resolved.backbone == gpu.get("backbone", "resnet18")
    assert resolved.optimizer == gpu["optimizer"] and resolved.lr == gpu["lr"]
    assert resolved.method_args == gpu.get("method_args", {})  # paper-width heads etc.
    assert [h["step"] for h in run.history] == [1, 2]
    assert all(math.isfinite(h["loss"]) for h in run.history), run.history
    assert all(torch.isfinite(p).all() for p in run.method.parameters())
    assert 0.0 <= run.metrics["knn_top1"] <= 1.0
