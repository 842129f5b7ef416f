"""sslkit.distributed: no-ops in one process; two gloo processes under DDP equal one process.

The parity test is the one lightly#1977 lacked: a batch-statistics loss of gathered
embeddings must give, after DDP's gradient averaging, the gradient of one process on the
concatenated batch.
"""

import dataclasses
import math
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


# ---- the training loop itself under two gloo processes -------------------------------------

def _in_group(fn, *args):
    """Run fn(rank, *args) in WORLD forked processes that joined a group as torchrun would."""
    def worker(rank, port):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                          WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
        torch.set_num_threads(1)
        try:
            fn(rank, *args)  # train() joins the group itself (WORLD_SIZE > 1)
        finally:
            if distributed.is_distributed():
                torch.distributed.destroy_process_group()

    # fork: the children inherit the test's data and skip re-importing torch
    mp.start_processes(worker, args=(free_port(),), nprocs=WORLD, join=True,
                       start_method="fork")


def _tiny_data():
    from sslkit.data import make_shapes
    return make_shapes(n=128, seed=0), make_shapes(n=64, seed=1)


def _parity_config(out=None):
    from sslkit.train import TrainConfig
    # SGD at a modest lr: the update is linear in the gradient, so float rounding stays
    # rounding for 3 steps (Adam's normalisation, or lr 0.5, amplify it to ~0.3% of a step).
    # NCHW: PyTorch's CPU channels-last BatchNorm is less precise (3.7e-6 relative error vs
    # 1.2e-7 NCHW, against float64; measured at 64x32x32x32).
    return TrainConfig(method="vicreg", profile="smoke", steps=3, batch_size=32,
                       optimizer="sgd", lr=0.1, warmup_steps=0, log_every=1,
                       channels_last=False,
                       eval_train_size=128, eval_test_size=64, out=out,
                       method_args={"gather": True})


def _train_and_save(rank, train_data, test_data, out_dir):
    from sslkit.train import train
    run = train(_parity_config(out=str(out_dir / "run")), train_data=train_data,
                test_data=test_data, progress=False)
    torch.save({"state": run.method.state_dict(), "history": run.history,
                "metrics": run.metrics, "out": run.out,
                "norms": sorted({type(m).__name__ for m in run.method.modules()
                                 if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)})},
               out_dir / f"train{rank}.pt")


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_train_in_two_processes_equals_one_process_on_the_concatenated_batch(tmp_path):
    """train() under 2 gloo processes trains the model one process trains on the whole batch.

    Exact in theory: every process augments the whole global batch with the same generator
    and keeps its rows; BatchNorm uses the statistics of the global batch (GatheredBatchNorm);
    VICReg's loss is computed on the gathered embeddings; DDP averages the gradients. What
    remains is float rounding (a half batch is summed in another order).
    """
    from sslkit.train import train
    train_data, test_data = _tiny_data()
    _in_group(_train_and_save, train_data, test_data, tmp_path)
    one = train(_parity_config(), train_data=train_data, test_data=test_data, progress=False)
    init = train(dataclasses.replace(_parity_config(), steps=1, lr=0.0), train_data=train_data,
                 test_data=test_data, progress=False, evaluate_knn=False)
    ranks = [torch.load(tmp_path / f"train{r}.pt", weights_only=False) for r in range(WORLD)]
    before = dict(init.method.named_parameters())
    moved = max((p - before[k]).abs().max().item() for k, p in one.method.named_parameters())
    # float rounding of the half batches, grown over 3 steps: up to ~4e-5 measured
    atol = 1e-4
    assert moved > 50 * atol  # the test compares trained weights, not the initial ones
    for res in ranks:
        assert res["norms"] == ["GatheredBatchNorm"]
        for name, value in one.method.state_dict().items():
            torch.testing.assert_close(res["state"][name], value, rtol=1e-3, atol=atol,
                                       msg=lambda m, n=name: f"{n}: {m}")
        assert [h["step"] for h in res["history"]] == [h["step"] for h in one.history]
        for ours, single in zip(res["history"], one.history):
            for key in ("loss", "variance", "invariance", "covariance", "std_l2"):
                assert ours[key] == pytest.approx(single[key], rel=1e-4, abs=1e-6), key
    # process 0 evaluates, reports and writes; process 1 writes nothing
    assert ranks[0]["out"] == tmp_path / "run" and "knn_top1" in ranks[0]["metrics"]
    assert ranks[1]["out"] is None and "knn_top1" not in ranks[1]["metrics"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt",
                                                                    "results.json"]
    assert ranks[0]["metrics"]["knn_top1"] == pytest.approx(one.metrics["knn_top1"], abs=0.05)


def _every_method(rank, train_data, test_data, out_dir):
    from sslkit.methods import METHODS
    from sslkit.train import TrainConfig, train
    losses = {}
    for name in sorted(METHODS):
        cfg = TrainConfig(method=name, profile="smoke", steps=2, batch_size=32, log_every=1,
                          eval_train_size=64, eval_test_size=32)
        run = train(cfg, train_data=train_data, test_data=test_data, progress=False,
                    evaluate_knn=False)
        losses[name] = [h["loss"] for h in run.history]
    torch.save(losses, out_dir / f"methods{rank}.pt")


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_every_method_trains_in_two_processes(tmp_path):
    """Every method's smoke config takes 2 steps under DDP on CPU: BatchNorm across processes
    (GatheredBatchNorm), DINO's frozen last layer (gradients cancelled, not detached), and
    every parameter reaching the loss (DDP without find_unused_parameters)."""
    from sslkit.methods import METHODS
    train_data, test_data = _tiny_data()
    _in_group(_every_method, train_data, test_data, tmp_path)
    ranks = [torch.load(tmp_path / f"methods{r}.pt") for r in range(WORLD)]
    assert sorted(ranks[0]) == sorted(METHODS)
    for name in METHODS:
        assert len(ranks[0][name]) == 2 and all(map(math.isfinite, ranks[0][name])), name
        assert ranks[0][name] == ranks[1][name], name  # the history is the global batch's


def test_torchrun_cli_trains_one_model_and_reports_once(tmp_path):
    """The user's command: `torchrun --nproc_per_node=2 -m sslkit train ...`."""
    import json
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={free_port()}", "-m", "sslkit", "train", "--method", "vicreg",
           "--steps", "2", "--batch-size", "16", "--out", str(tmp_path), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("kNN top-1 accuracy") == 1, done.stdout  # process 0 reports
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["method_args"]["gather"] is True  # one loss of the global batch
    assert [h["step"] for h in saved["history"]] == [1, 2]
