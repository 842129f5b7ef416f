"""sslkit.distributed: no-ops in one process; two gloo processes under DDP equal one process.

The parity test is the one lightly#1977 lacked: a batch-statistics loss of gathered
embeddings must give, after DDP's gradient averaging, the gradient of one process on the
concatenated batch.
"""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from sslkit import distributed

WORLD = 2
N, D_IN, D_OUT = 8, 5, 3  # global batch of 8, 4 per process


def cross_correlation_loss(z_a, z_b, lambd=0.05):
    """Barlow-Twins-style loss: every term is a statistic of the whole batch."""
    n = z_a.shape[0]
    z_a = (z_a - z_a.mean(0)) / z_a.std(0)
    z_b = (z_b - z_b.mean(0)) / z_b.std(0)
    c = z_a.T @ z_b / n  # D x D
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on_diag + lambd * off_diag


def losses():
    """The losses to check: ours always, sslkit's VICReg when it is there."""
    fns = {"cross_correlation": cross_correlation_loss}
    try:
        from sslkit.losses import vicreg_loss
    except ImportError:
        pass
    else:
        fns["vicreg"] = vicreg_loss
    return fns


def data():
    g = torch.Generator().manual_seed(0)
    x_a = torch.randn(N, D_IN, generator=g, dtype=torch.float64)
    x_b = x_a + 0.3 * torch.randn(N, D_IN, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(D_IN, D_OUT, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.randn(D_OUT, D_IN, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(D_OUT, generator=g, dtype=torch.float64))
    return x_a, x_b, model


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, out_dir):
    """One of the two processes: joins the group the way torchrun would set it up."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    device = distributed.init_from_env("cpu")  # gloo, even where a GPU is present
    try:
        x_a, x_b, model = data()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        part = slice(rank * N // WORLD, (rank + 1) * N // WORLD)
        result = {"device": str(device), "rank": distributed.rank(),
                  "world_size": distributed.world_size(),
                  "is_distributed": distributed.is_distributed(),
                  "mean": distributed.all_reduce_mean(torch.tensor([float(rank), 1.0]))}
        for name, loss_fn in losses().items():
            ddp.zero_grad()
            z_a = distributed.gather_with_grad(ddp(x_a[part]))  # N x D_OUT, all processes
            z_b = distributed.gather_with_grad(ddp(x_b[part]))
            loss = loss_fn(z_a, z_b)
            loss.backward()
            result[name] = {"loss": loss.detach(), "z_a": z_a.detach(),
                            "grads": [p.grad.clone() for p in model.parameters()]}
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


def test_two_processes_match_one_process_on_the_concatenated_batch(tmp_path):
    # fork, not spawn: the children skip re-importing torch (seconds each); each sets one
    # thread before any op, and the parent has no process group, so forking is safe here
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True,
                       start_method=method)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for r, res in enumerate(results):
        assert (res["rank"], res["world_size"], res["is_distributed"]) == (r, WORLD, True)
        assert res["device"] == "cpu"
        torch.testing.assert_close(res["mean"], torch.tensor([0.5, 1.0]))

    x_a, x_b, model = data()
    for name, loss_fn in losses().items():
        model.zero_grad()
        z_a = model(x_a)
        loss = loss_fn(z_a, model(x_b))
        loss.backward()
        for res in results:
            torch.testing.assert_close(res[name]["z_a"], z_a.detach(), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(res[name]["loss"], loss.detach(), rtol=1e-12, atol=1e-12)
            for ours, single in zip(res[name]["grads"], [p.grad for p in model.parameters()]):
                torch.testing.assert_close(ours, single, rtol=1e-10, atol=1e-12)


def test_one_process_helpers_are_no_ops(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.is_distributed()
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    x = torch.randn(4, 3, requires_grad=True)
    assert distributed.gather_with_grad(x) is x  # the identity, gradient included
    mean = distributed.all_reduce_mean(x)
    assert torch.equal(mean, x) and not mean.requires_grad
    device = distributed.init_from_env()  # a plain `python` run: nothing to join
    assert not distributed.is_distributed()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert distributed.init_from_env("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device_type"):
        distributed.init_from_env("gpu")


@pytest.mark.parametrize("n_per_rank", [1, 3])
def test_gather_backward_formula(n_per_rank, monkeypatch):
    # the autograd Function on its own, with the collectives faked for rank 1 of 2 processes
    # holding identical copies of the loss: backward must return 2 * (this rank's slice)
    from sslkit.distributed import _GatherWithGrad

    d = torch.distributed
    monkeypatch.setattr(d, "get_world_size", lambda *a: 2)
    monkeypatch.setattr(d, "get_rank", lambda *a: 1)
    monkeypatch.setattr(d, "all_gather", lambda parts, x: [p.copy_(x + i) for i, p in
                                                           enumerate(parts)])
    monkeypatch.setattr(d, "all_reduce", lambda t, op=None: t.mul_(2))
    x = torch.randn(n_per_rank, 2, dtype=torch.float64, requires_grad=True)
    y = _GatherWithGrad.apply(x)
    torch.testing.assert_close(y, torch.cat([x, x + 1]).detach())
    w = torch.randn_like(y)
    (grad,) = torch.autograd.grad((w * y).sum(), x)
    torch.testing.assert_close(grad, 2 * w[n_per_rank:])
