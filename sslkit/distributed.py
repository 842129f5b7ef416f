"""Batch statistics across processes, for methods run with their distributed flag on.

Every helper is a no-op in one process, so a loss that calls them still runs in a notebook.
Losses that use batch statistics (Barlow Twins' cross-correlation, VICReg's variance and
covariance, W-MSE's whitening, TWIST's batch mean, CorInfoMax's covariance) should see the
global batch, not each process's slice of it: gather the embeddings with `gather_with_grad`
and compute the same loss of the same global batch on every process.

BatchNorm across processes: `convert_batchnorm` makes every BatchNorm normalise with the
statistics of the global batch, as the official BYOL / SimSiam / Barlow Twins / VICReg code
does with SyncBatchNorm. On CUDA it uses `nn.SyncBatchNorm` (fused kernels); SyncBatchNorm
refuses CPU tensors, so on CPU (gloo) it uses `GatheredBatchNorm`, the same computation
written with two autograd-aware all-reduces. Either way N processes train the model one
process would train on the concatenated batch.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["GatheredBatchNorm", "all_reduce_mean", "convert_batchnorm", "gather_with_grad",
           "init_from_env", "is_distributed", "join_if_launched", "rank", "world_size"]


def is_distributed() -> bool:
    """True when a process group has been initialised (e.g. by `init_from_env`)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes; 1 outside a process group."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's index in [0, world_size()); 0 outside a process group."""
    return dist.get_rank() if is_distributed() else 0


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each process the gradient of its own slice.

    Every process computes the same loss L of the gathered batch X = [x_0; ...; x_{W-1}], but
    autograd on process r only reaches the parameters through its own x_r. Its backward
    therefore sums dL/dX over the processes (each holds the full dL/dX of its own copy of L,
    so the sum is W * dL/dX) and keeps slice r. DDP then averages the parameter gradients
    over the W processes: (1/W) * sum_r W * dL/dx_r * dx_r/dtheta = dL/dtheta, the gradient of
    one process on the concatenated batch. Without the sum the result is 1/W of it, the bug
    of lightly#1977 (a raw, autograd-unaware all_reduce).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)  # (W*N) x ...

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()  # never modify autograd's buffer in place
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.chunk(dist.get_world_size())[dist.get_rank()]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate every process's `x` along dim 0, keeping the gradient to this process's x.

    x: (N, ...), the same N on every process (pass `drop_last=True` batches).
    Returns (world_size * N, ...), rank r's rows at [r*N, (r+1)*N). The identity in one process.
    Every process must compute the same loss of the gathered tensor (see `_GatherWithGrad`
    for why the gradient then equals the one-process gradient under DDP's averaging).
    """
    if world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


@torch.no_grad()
def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean of a floating-point `x` over the processes, detached (DINO's center, CorInfoMax's
    R).

    Returns a new tensor; `x` is left as it is. In one process, `x.detach()`.
    """
    if world_size() == 1:
        return x.detach()
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.div_(world_size())


class _AllReduceSum(torch.autograd.Function):
    """Sum over the processes; backward sums the gradients over the processes too.

    Each process's loss depends on the sum through its own copy, so the gradient of the
    total loss with respect to this process's input is the sum of all copies' gradients.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        out = x.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


class GatheredBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, on any device.

    What nn.SyncBatchNorm computes, for CPU processes (gloo), which SyncBatchNorm refuses:
    mean = sum_r sum(x_r) / n, var = sum_r sum((x_r - mean)^2) / n over every process's
    batch (two passes, in float32), both all-reduced with their gradients. Running
    statistics are updated as nn.BatchNorm does (unbiased variance). In eval mode, or in one
    process, it is a plain BatchNorm. Parameter and buffer names are BatchNorm's, so
    checkpoints load either way.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected an (N, C, ...) input, got {x.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0] + list(range(2, x.dim()))  # all but the channels
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = xf.new_tensor([x.numel() / x.shape[1]])
        total = _AllReduceSum.apply(torch.cat([xf.sum(dims), count]))
        n = total[-1].detach()
        mean = total[:-1] / n  # C
        centred = xf - mean.view(shape)
        var = _AllReduceSum.apply(centred.pow(2).sum(dims)) / n  # C, biased
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else self.momentum)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * n / (n - 1).clamp(min=1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` with every BatchNorm normalising over the global batch of all processes.

    CUDA: nn.SyncBatchNorm. Other devices: GatheredBatchNorm (same parameters, buffers and
    state_dict keys). Returns the converted module (the same object when it is not itself a
    BatchNorm).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and \
            not isinstance(module, (GatheredBatchNorm, nn.SyncBatchNorm)):
        converted = GatheredBatchNorm(module.num_features, module.eps, module.momentum,
                                      module.affine, module.track_running_stats)
        # the same tensors, not copies: an optimiser built before still holds them
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            setattr(converted, name, getattr(module, name))
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_batchnorm(child, device))
    return module


def join_if_launched(device: torch.device) -> torch.device:
    """Join the process group when `torchrun` launched this process with WORLD_SIZE > 1.

    Call it before reading `world_size()` or `rank()`: until the group is joined they
    answer 1 and 0. Returns the device this process uses (cuda:LOCAL_RANK on CUDA); in a
    plain `python` run, `device` itself.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    return init_from_env(device.type)


def init_from_env(device_type: str | None = None) -> torch.device:
    """Join the process group that `torchrun` describes in the environment.

    Reads WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Without WORLD_SIZE (a
    plain `python` run) nothing is initialised and only the device is chosen.
    device_type: "cuda" (one GPU per process, `cuda:LOCAL_RANK`, NCCL) or "cpu" (gloo);
        None picks "cuda" when a GPU is available.
    Returns the device this process should put its model and batches on.
    """
    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if device_type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    elif device_type == "cpu":
        device = torch.device("cpu")
    else:
        raise ValueError(f"init_from_env: device_type must be 'cuda', 'cpu' or None, got "
                         f"{device_type!r}.")
    if "WORLD_SIZE" in os.environ and not is_distributed():
        nccl = device.type == "cuda"
        dist.init_process_group("nccl" if nccl else "gloo", init_method="env://",
                                device_id=device if nccl else None)
    return device
