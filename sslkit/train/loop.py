"""The one training loop every method goes through.

Per step: take a batch of uint8 images (already on the device), draw the views with the
method's augmentation recipe, call the method, backpropagate, step the optimiser, then let
the method update its non-gradient state (EMA target, DINO center, ...).

Reproducibility: the randomness of step t (batch order, augmentation parameters, dropout)
comes from generators seeded by (seed, t), never from state carried across steps. A run
resumed from a checkpoint therefore ends bit-identical to an uninterrupted one on the same
machine.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import signal
import subprocess
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import sslkit
from sslkit import augment, data as sdata, distributed, evaluate, models
from sslkit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sslkit.train.config import TrainConfig, with_added_fields
from sslkit.train.optim import build_optimizer
from sslkit.train.schedules import warmup_cosine


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


@dataclass
class RunResult:
    method: nn.Module
    config: TrainConfig
    history: list[dict[str, float]]
    metrics: dict[str, float]
    wall_s: float
    device: str
    out: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def backbone(self) -> nn.Module:
        return self.method.backbone


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({platform.processor() or platform.machine()}, " \
           f"{torch.get_num_threads()} threads)"


def _step_seed(seed: int, step: int) -> int:
    # a distinct, reproducible stream per (seed, step)
    return (seed * 1_000_003 + step * 7919 + 17) % (2**63 - 1)


def _epoch_batch(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Indices of step `step`: a fresh permutation per epoch, drop-last, seeded by the epoch."""
    per_epoch = max(n // batch_size, 1)
    epoch, pos = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(_step_seed(seed, -1 - epoch))
    perm = torch.randperm(n, generator=g)
    return perm[pos * batch_size:(pos + 1) * batch_size]


@contextmanager
def _interrupt_between_steps():
    """Turn Ctrl-C into a flag the loop reads between steps.

    Interrupting in the middle of a step (after the optimiser but before the EMA update, say)
    would leave a state no checkpoint should hold; so the first Ctrl-C finishes the current
    step, the loop saves a checkpoint and stops. A second Ctrl-C interrupts at once.
    """
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag["stop"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["stop"] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def load_data(cfg: TrainConfig) -> tuple[sdata.ImageData, sdata.ImageData]:
    """The training split and the evaluation split of `cfg.data`."""
    train = sdata.load(cfg.data, split="train" if cfg.data != "stl10" else "unlabeled",
                       root=cfg.data_root)
    test = sdata.load(cfg.data, split="test", root=cfg.data_root)
    return train, test


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5, cwd=Path(__file__).parent).stdout.strip() or None
    except Exception:
        return None


def random_subset(data: sdata.ImageData, n: int | None, seed: int) -> sdata.ImageData:
    """`n` images drawn without replacement (a fixed draw per seed), in their original order.

    Never the first n: folder-based data sets are sorted by class, so a prefix would hold
    one or two classes only.
    """
    if n is None or n >= len(data):
        return data
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.subset(idx.sort().values)


def knn_eval(backbone: nn.Module, train: sdata.ImageData, test: sdata.ImageData,
             mean, std, cfg: TrainConfig, device: torch.device) -> float:
    bank = random_subset(train, cfg.eval_train_size, seed=1)
    query = random_subset(test, cfg.eval_test_size, seed=2)
    f_train = evaluate.extract_features(backbone, bank.images, mean, std, device=device)
    f_test = evaluate.extract_features(backbone, query.images, mean, std, device=device)
    return evaluate.knn_accuracy(f_train, bank.labels, f_test, query.labels, k=cfg.knn_k,
                                 temperature=cfg.knn_temperature,
                                 num_classes=len(train.classes))


def train(cfg: TrainConfig, *, train_data: sdata.ImageData | None = None,
          test_data: sdata.ImageData | None = None, progress: bool = True,
          resume: bool = True, evaluate_knn: bool = True) -> RunResult:
    """Train `cfg.method` and evaluate it with kNN. Returns the trained method and its history.

    With `cfg.out` set, a checkpoint is written every `checkpoint_every` steps and on Ctrl-C;
    calling `train` again with the same config resumes from it. `train_data` / `test_data`
    override `cfg.data` (for experiments on custom data, e.g. a variant of the shapes set).
    `evaluate_knn=False` skips the final kNN evaluation (speed probes).
    """
    from sslkit.methods import get_method  # late: method files import sslkit.train.schedules

    spec = get_method(cfg.method)
    cfg = cfg.resolved(spec.train_defaults)
    world, rank = distributed.world_size(), distributed.rank()
    device = resolve_device(cfg.device)
    if world > 1:
        device = distributed.init_from_env(device.type)  # cuda:LOCAL_RANK or cpu (gloo)
        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the number of "
                             f"processes ({world}): each takes batch_size / {world} images.")
        if "gather" in {f.name for f in dataclasses.fields(spec.config)}:
            # batch-statistics losses see the whole global batch, as in one process
            cfg = dataclasses.replace(cfg, method_args={"gather": True, **cfg.method_args})
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    # NHWC convolutions: 1.4x the images/s of NCHW for SmallCNN fwd+bwd on 2 CPU cores
    # (benchmarks/step_overhead.py), and the tensor-core layout on CUDA
    channels_last = (cfg.channels_last if cfg.channels_last is not None
                     else device.type in ("cuda", "cpu"))

    if train_data is None or test_data is None:
        loaded_train, loaded_test = load_data(cfg)
        train_data = train_data or loaded_train
        test_data = test_data or loaded_test
    train_data = random_subset(train_data, cfg.train_size, seed=0)
    if cfg.batch_size > len(train_data):
        raise ValueError(f"batch_size {cfg.batch_size} is larger than the training set "
                         f"({len(train_data)} images); lower --batch-size.")
    mean, std = train_data.mean_std()

    torch.manual_seed(cfg.seed)  # model initialisation
    backbone = build_run_backbone(cfg, train_data.image_size)
    method_cfg = spec.config(**cfg.method_args)
    method = spec.module(backbone, method_cfg).to(device)
    if channels_last:
        method = method.to(memory_format=torch.channels_last)
    recipe = build_run_recipe(cfg, method, train_data.image_size, mean, std)

    lr_schedule = warmup_cosine(cfg.lr * cfg.batch_size / 256, 0.0, cfg.steps,
                                cfg.warmup_steps)
    optimizer = build_optimizer(cfg.optimizer, method, lr=float(lr_schedule[0]),
                                weight_decay=cfg.weight_decay)
    method.on_train_start(cfg.steps)
    step_fn = method
    if world > 1:
        # SyncBatchNorm: BYOL/SimSiam heads normalise over the global batch (official code)
        method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
        step_fn = nn.parallel.DistributedDataParallel(
            method, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        step_fn = torch.compile(step_fn)

    history: list[dict[str, float]] = []
    start_step, wall_before = 0, 0.0
    out = Path(cfg.out) if cfg.out and rank == 0 else None  # one writer
    ckpt_path = out / "checkpoint.pt" if out else None
    if out and resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        stored, current = with_added_fields(state["config"]), cfg.to_dict()
        if stored != current:
            changed = sorted(k for k, v in current.items() if stored.get(k) != v)
            raise CheckpointError(
                f"{ckpt_path} belongs to a run with a different config (differs in: "
                f"{', '.join(changed)}). Use another --out folder, or delete the checkpoint "
                f"to start over.")
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        start_step, history = state["step"], state["history"]
        wall_before = state.get("wall_s", 0.0)

    def checkpoint(step: int, wall: float) -> None:
        if ckpt_path is None:
            return
        # never replace a good checkpoint with a diverged state
        bad = [n for n, t in method.state_dict().items()
               if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise NonFiniteLossError(
                f"{cfg.method}: non-finite values in {bad[0]} (and {len(bad) - 1} more "
                f"tensors) after step {step}; the run stopped and the last good checkpoint "
                f"{ckpt_path} was kept. Lower the learning rate or raise warmup_steps.")
        save_checkpoint(ckpt_path, {"step": step, "method": method.state_dict(),
                                    "optimizer": optimizer.state_dict(),
                                    "history": history, "config": cfg.to_dict(),
                                    "wall_s": wall, "sslkit": sslkit.__version__})

    images = train_data.images.to(device)  # uint8 is 4x smaller than float: keep it resident
    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm  # works in terminals and notebooks
        bar = tqdm(total=cfg.steps, initial=start_step, desc=f"{cfg.method} [{cfg.profile}]",
                   dynamic_ncols=True)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16
                else nullcontext())
    t0 = time.perf_counter()
    completed = start_step
    method.train()
    try:
        with _interrupt_between_steps() as interrupt:
            for step in range(start_step, cfg.steps):
                if interrupt["stop"]:
                    checkpoint(completed, wall_before + time.perf_counter() - t0)
                    where = (f"checkpoint saved to {ckpt_path}; run the same command again "
                             f"to resume" if ckpt_path else "no --out folder, nothing saved")
                    raise KeyboardInterrupt(f"interrupted after step {completed} ({where})")
                output = _train_step(method, step_fn, recipe, optimizer, images, lr_schedule,
                                     cfg, step, device, autocast, channels_last, rank, world)
                completed = step + 1
                last = completed == cfg.steps
                if completed % cfg.log_every == 0 or last or step == 0:
                    record = _log_record(output, cfg, step, lr_schedule, ckpt_path)
                    record["time_s"] = wall_before + time.perf_counter() - t0
                    if cfg.eval_every and completed % cfg.eval_every == 0:
                        record["knn_top1"] = knn_eval(method.backbone, train_data, test_data,
                                                      mean, std, cfg, device)
                        method.train()
                    history.append(record)
                    if bar is not None:
                        bar.set_postfix(loss=f"{record['loss']:.4g}")
                if bar is not None:
                    bar.update(1)
                if cfg.checkpoint_every and completed % cfg.checkpoint_every == 0 and not last:
                    checkpoint(completed, wall_before + time.perf_counter() - t0)
    finally:
        if bar is not None:
            bar.close()
    train_wall = wall_before + time.perf_counter() - t0

    metrics = {"train_wall_s": train_wall}
    if evaluate_knn:
        t_eval = time.perf_counter()
        metrics["knn_top1"] = knn_eval(method.backbone, train_data, test_data, mean, std, cfg,
                                       device)
        metrics["eval_wall_s"] = time.perf_counter() - t_eval
    if history and "std_l2" in history[-1]:
        metrics.update(std_l2=history[-1]["std_l2"], rank=history[-1]["rank"])
    result = RunResult(method=method, config=cfg, history=history, metrics=metrics,
                       wall_s=train_wall, device=device_description(device), out=out)
    if out is not None:
        checkpoint(cfg.steps, train_wall)
        write_results(result, out / "results.json", data_name=train_data.name)
    return result


def build_run_backbone(cfg: TrainConfig, image_size: int) -> nn.Module:
    """The (untrained) backbone a run of `cfg` trains, for `image_size` images."""
    return models.build_backbone(cfg.backbone, norm=cfg.norm, image_size=image_size,
                                 **cfg.backbone_args)


def build_run_recipe(cfg: TrainConfig, method, image_size: int, mean, std) -> augment.Recipe:
    """The augmentation recipe a run of `cfg` trains `method` with, on `image_size` images.

    The method's own recipe settings (DINO's number of local crops) come first, then the
    caller's `recipe_args`, then `cfg.view_size`.
    """
    recipe_args = {**getattr(method, "recipe_args", {}), **cfg.recipe_args}
    if cfg.view_size is not None:
        if "view_size" in cfg.recipe_args:
            raise ValueError("the view size is set twice, by view_size and by "
                             "recipe_args['view_size']; keep only view_size")
        recipe_args["view_size"] = cfg.view_size
    return augment.build_recipe(cfg.recipe or method.recipe, image_size, mean, std,
                                **recipe_args)


def _train_step(method, step_fn, recipe, optimizer, images, lr_schedule, cfg, step, device,
                autocast, channels_last, rank=0, world=1):
    """One optimiser step; randomness comes only from (seed, step, rank)."""
    for group in optimizer.param_groups:
        group["lr"] = float(lr_schedule[step])
    # every process draws the same global batch and keeps its own interleaved share
    idx = _epoch_batch(len(images), cfg.batch_size, cfg.seed, step)[rank::world]
    x = images[idx.to(device)]
    seed = _step_seed(cfg.seed, step) + rank
    torch.manual_seed(seed)  # dropout, drop-path, ...
    g = torch.Generator(device=device).manual_seed(seed)
    views = recipe(x, g)
    if channels_last:
        views = [v.contiguous(memory_format=torch.channels_last) for v in views]
    with autocast:
        output = step_fn(views, step)
    optimizer.zero_grad(set_to_none=True)
    output.loss.backward()
    optimizer.step()
    method.after_optimizer_step(step)
    return output


def _log_record(output, cfg, step, lr_schedule, ckpt_path) -> dict[str, float]:
    """Loss, named terms and collapse diagnostics of this step (one host sync)."""
    loss_value = float(output.loss.detach())
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(
            f"{cfg.method}: loss is {loss_value} at step {step}. The run stopped; the last "
            f"good checkpoint ({ckpt_path or 'none: no --out folder given'}) is kept. Lower "
            f"the learning rate (now {lr_schedule[step]:.3g}) or raise warmup_steps.")
    record = {"step": step + 1, "lr": float(lr_schedule[step]), "loss": loss_value}
    record.update({k: float(v) for k, v in output.terms.items()})
    if output.embedding is not None:
        z = output.embedding.float()
        record["std_l2"] = float(evaluate.std_of_l2_normalized(z))
        record["rank"] = float(evaluate.effective_rank(z))
    return record


def write_results(result: RunResult, path: Path, *, data_name: str) -> None:
    """The run as JSON: config, device, wall-clock, history, final metrics."""
    payload = {
        "sslkit": sslkit.__version__, "commit": _git_commit(), "torch": torch.__version__,
        "device": result.device, "data": data_name, "config": result.config.to_dict(),
        "wall_s": result.wall_s, "metrics": result.metrics, "history": result.history,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)
