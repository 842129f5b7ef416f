"""The one training loop every method goes through.

Per step: take a batch of uint8 images (already on the device), draw the views with the
method's augmentation recipe, call the method, backpropagate, step the optimiser, then let
the method update its non-gradient state (EMA target, DINO center, ...).

Reproducibility: the randomness of step t (batch order, augmentation parameters, dropout)
comes from generators seeded by (seed, t), never from state carried across steps. A run
resumed from a checkpoint therefore ends bit-identical to an uninterrupted one on the same
machine.

Two stop rules. By default a run takes `cfg.steps` steps and step t reads the schedules
(learning rate, EMA rate, teacher temperature, ...) at index t. With a time budget
(`cfg.max_seconds`), it takes steps until its training seconds reach the budget, and a step
that starts after s training seconds reads the schedules at index floor(s / max_seconds *
steps): the schedules are laid out over time, so they end where the budget does however
fast the machine is. Training seconds leave out evaluation and checkpoint writes, and a
resumed run counts the seconds its checkpoint recorded. A time-budget run is not
bit-reproducible (where it stops depends on the machine's speed); its randomness per step
is still seeded by (seed, step).
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
from sslkit.train.schedules import index_at_time, warmup_cosine


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


@dataclass
class Run:
    """What the loop carries from step to step, built once by `set_up`."""

    cfg: TrainConfig                   # resolved: every field set
    method: nn.Module                  # its state is the run's: checkpointed and returned
    step_fn: Any                       # `method`, wrapped by DDP and/or torch.compile
    recipe: augment.Recipe
    optimizer: torch.optim.Optimizer
    lr_schedule: torch.Tensor          # (steps,): the learning rate of every step
    images: torch.Tensor               # the training images, uint8, on the device
    train_data: sdata.ImageData        # the kNN bank is drawn from it, the queries from
    test_data: sdata.ImageData         # test_data
    mean: tuple[float, ...]            # the training images' channel statistics
    std: tuple[float, ...]
    device: torch.device
    autocast: Any = field(default_factory=nullcontext)  # bf16 autocast, or a no-op
    channels_last: bool = False
    rank: int = 0                      # this process, of `world` (torchrun); 0 of 1 alone
    world: int = 1
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0                # > 0 when resumed from a checkpoint
    wall_before: float = 0.0           # training seconds spent before this session
    t0: float = field(default_factory=time.perf_counter)
    paused_s: float = 0.0              # seconds of this session spent evaluating or saving

    @property
    def out(self) -> Path | None:
        return Path(self.cfg.out) if self.cfg.out else None

    @property
    def ckpt_path(self) -> Path | None:
        return self.out / "checkpoint.pt" if self.out else None

    @property
    def writes(self) -> bool:
        """Whether this process writes checkpoints and results (process 0 of a group)."""
        return self.out is not None and self.rank == 0

    def wall(self) -> float:
        """Training seconds so far, earlier sessions included, evaluations and saves not."""
        return self.wall_before + time.perf_counter() - self.t0 - self.paused_s

    @contextmanager
    def clock_paused(self):
        """Evaluation and checkpoint writes do not count as training time (nor against a
        time budget)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - start

    def clock(self) -> float:
        """`wall()` as the stop rule reads it: under torchrun in a time-budget run, the mean
        over the processes, so that all of them stop at the same step and read the same
        schedule index."""
        if self.cfg.max_seconds is None or self.world == 1:
            return self.wall()
        return float(distributed.all_reduce_mean(
            torch.tensor([self.wall()], dtype=torch.float64, device=self.device)))

    def over(self, done: int, seconds: float) -> bool:
        """Whether the run stops after `done` steps and `seconds` training seconds (or, with
        `stop_at_knn`, once an evaluation along the run reached it)."""
        target = self.cfg.stop_at_knn
        if target is not None and self.history and \
                self.history[-1].get("knn_top1", -1.0) >= target:
            return True
        if self.cfg.max_seconds is None:
            return done >= self.cfg.steps
        return seconds >= self.cfg.max_seconds

    def schedule_index(self, step: int, seconds: float) -> int:
        """The schedules' index of a step starting after `seconds` training seconds: the step
        itself, or with a time budget the elapsed share of it (clipped to the last index)."""
        if self.cfg.max_seconds is None:
            return step
        return index_at_time(seconds, self.cfg.max_seconds, self.cfg.steps)

    def knn(self) -> float:
        """kNN top-1 of the backbone as it is now, by the run's own protocol."""
        return knn_eval(self.method.backbone, self.train_data, self.test_data, self.mean,
                        self.std, self.cfg, self.device)


def train(cfg: TrainConfig, *, train_data: sdata.ImageData | None = None,
          test_data: sdata.ImageData | None = None, progress: bool = True,
          resume: bool = True, evaluate_knn: bool = True) -> RunResult:
    """Train `cfg.method` and evaluate it with kNN. Returns the trained method and its history.

    With `cfg.out` set, a checkpoint is written every `checkpoint_every` steps and on Ctrl-C;
    calling `train` again with the same config resumes from it. `train_data` / `test_data`
    override `cfg.data` (for experiments on custom data, e.g. a variant of the shapes set).
    `evaluate_knn=False` skips the final kNN evaluation (speed probes). Under torchrun every
    process trains the same model on its share of each batch; process 0 reports and writes.
    """
    # torchrun: join the process group before anything reads the world size or rank
    device = distributed.join_if_launched(resolve_device(cfg.device))
    run = set_up(cfg, train_data, test_data, device=device)
    if resume:
        _resume(run)
    cfg = run.cfg
    bar = _progress_bar(run) if progress and run.rank == 0 else None
    run.method.train()
    run.t0 = time.perf_counter()
    try:
        with _interrupt_between_steps() as interrupt:
            step, seconds = run.start_step, run.clock()
            while not run.over(step, seconds):
                if _stop_requested(run, interrupt):
                    _checkpoint(run, step)
                    raise KeyboardInterrupt(f"interrupted after step {step} "
                                            f"({_where_saved(run)})")
                at = run.schedule_index(step, seconds)
                output = _train_step(run, step, at)
                step, seconds = step + 1, run.clock()
                last = run.over(step, seconds)
                _report(run, output, step, at, last, bar)
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and not last:
                    _checkpoint(run, step)
    finally:
        if bar is not None:
            bar.close()
    return _finish(run, step, evaluate_knn)


def set_up(cfg: TrainConfig, train_data: sdata.ImageData | None = None,
           test_data: sdata.ImageData | None = None, *,
           device: torch.device | None = None) -> Run:
    """Everything a run of `cfg` needs before its first step: data, method, recipe, schedule,
    optimiser, and DDP when a process group is joined (`train` joins torchrun's first;
    set_up alone never joins one, so a helper can build a run in any process)."""
    from sslkit.methods import get_method  # late: method files import sslkit.train.schedules

    spec = get_method(cfg.method)
    cfg = cfg.resolved(spec.train_defaults)
    device = device or resolve_device(cfg.device)
    world, rank = distributed.world_size(), distributed.rank()
    if world > 1:
        if cfg.stop_at_knn is not None:  # only process 0 evaluates: the others would not stop
            raise ValueError("stop_at_knn works in one process; run without torchrun")
        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the number of "
                             f"processes ({world}): each takes batch_size / {world} images.")
        if "gather" in {f.name for f in dataclasses.fields(spec.config)}:
            # batch-statistics losses see the whole global batch, as in one process
            cfg = dataclasses.replace(cfg, method_args={"gather": True, **cfg.method_args})
    method_cfg = spec.make_config(**cfg.method_args)  # a clear error names the valid keys

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
    method = spec.module(build_run_backbone(cfg, train_data.image_size), method_cfg).to(device)
    # NHWC convolutions: 1.4x the images/s of NCHW for SmallCNN fwd+bwd on 2 CPU cores
    # (benchmarks/step_overhead.py), and the tensor-core layout on CUDA
    channels_last = (cfg.channels_last if cfg.channels_last is not None
                     else device.type in ("cuda", "cpu"))
    if channels_last:
        method = method.to(memory_format=torch.channels_last)
    if world > 1:
        # BatchNorm over the global batch (official BYOL/SimSiam/...: SyncBatchNorm)
        method = distributed.convert_batchnorm(method, device)
    recipe = build_run_recipe(cfg, method, train_data.image_size, mean, std)
    lr_schedule = warmup_cosine(cfg.lr * cfg.batch_size / 256, 0.0, cfg.steps,
                                cfg.warmup_steps)
    optimizer = build_optimizer(cfg.optimizer, method, lr=float(lr_schedule[0]),
                                weight_decay=cfg.weight_decay)
    method.on_train_start(cfg.steps)
    step_fn = method
    if world > 1:
        step_fn = nn.parallel.DistributedDataParallel(
            method, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        step_fn = torch.compile(step_fn)
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    return Run(cfg=cfg, method=method, step_fn=step_fn, recipe=recipe, optimizer=optimizer,
               lr_schedule=lr_schedule, images=train_data.images.to(device),
               train_data=train_data, test_data=test_data, mean=mean, std=std, device=device,
               autocast=(torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16
                         else nullcontext()),
               channels_last=channels_last, rank=rank, world=world)


def _train_step(run: Run, step: int, at: int | None = None,
                views: list[torch.Tensor] | None = None):
    """One optimiser step; its randomness comes only from (seed, step). The schedules (the
    learning rate here, the method's own through the step it is given) are read at index
    `at`: `step` itself unless a time budget places it elsewhere (`Run.schedule_index`).
    `views`: this step's views made beforehand (`_views(run, step)`), else made here."""
    at = step if at is None else at
    lr = float(run.lr_schedule[at])
    for group in run.optimizer.param_groups:  # fix_lr: SimSiam's --fix-pred-lr predictor
        group["lr"] = run.cfg.lr * run.cfg.batch_size / 256 if group.get("fix_lr") else lr
    views = _views(run, step) if views is None else views
    with run.autocast:
        output = run.step_fn(views, at)
    run.optimizer.zero_grad(set_to_none=True)
    output.loss.backward()
    if hasattr(run.method, "after_backward"):
        run.method.after_backward(at)  # DINO: cancel the frozen last layer's gradients
    run.optimizer.step()
    run.method.after_optimizer_step(at)
    return output


def _views(run: Run, step: int) -> list[torch.Tensor]:
    """This process's views of step `step`'s batch.

    Every process draws the same global batch and augments all of it with the same
    generator, then keeps rows rank::world: N processes see exactly the views one process
    would (each augments N times the images it trains on; cheap beside a forward pass).
    """
    cfg = run.cfg
    idx = _epoch_batch(len(run.images), cfg.batch_size, cfg.seed, step)
    seed = _step_seed(cfg.seed, step)
    torch.manual_seed(seed + run.rank)  # dropout, drop-path: one stream per process
    g = torch.Generator(device=run.device).manual_seed(seed)
    views = run.recipe(run.images[idx.to(run.device)], g)
    if run.world > 1:
        views = [v[run.rank::run.world].contiguous() for v in views]
    if run.channels_last:
        views = [v.contiguous(memory_format=torch.channels_last) for v in views]
    return views


def _resume(run: Run) -> None:
    """Continue from `cfg.out`'s checkpoint, if any; refuse one of a different config.

    Every process reads it (process 0 alone writes), so all continue from the same state.
    """
    path = run.ckpt_path
    if path is None or not path.exists():
        return
    state = load_checkpoint(path)
    stored, current = with_added_fields(state["config"]), run.cfg.to_dict()
    if stored != current:
        changed = sorted(k for k, v in current.items() if stored.get(k) != v)
        raise CheckpointError(
            f"{path} belongs to a run with a different config (differs in: "
            f"{', '.join(changed)}). Use another --out folder, or delete the checkpoint "
            f"to start over.")
    run.method.load_state_dict(state["method"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.start_step, run.history = state["step"], state["history"]
    run.wall_before = state.get("wall_s", 0.0)


def _checkpoint(run: Run, step: int, wall: float | None = None) -> None:
    """Save the state after `step` steps (process 0, with an --out folder)."""
    if not run.writes:
        return
    # never replace a good checkpoint with a diverged state
    bad = [n for n, t in run.method.state_dict().items()
           if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise NonFiniteLossError(
            f"{run.cfg.method}: non-finite values in {bad[0]} (and {len(bad) - 1} more "
            f"tensors) after step {step}; the run stopped and the last good checkpoint "
            f"{run.ckpt_path} was kept. Lower the learning rate or raise warmup_steps.")
    wall = run.wall() if wall is None else wall  # the training seconds a resume counts on
    with run.clock_paused():
        save_checkpoint(run.ckpt_path, {
            "step": step, "method": run.method.state_dict(),
            "optimizer": run.optimizer.state_dict(), "history": run.history,
            "config": run.cfg.to_dict(), "wall_s": wall, "sslkit": sslkit.__version__})


def _stop_requested(run: Run, interrupt: dict) -> bool:
    """Ctrl-C seen by this process, or (under torchrun) by any: all stop at the same step."""
    if run.world == 1:
        return interrupt["stop"]
    return bool(distributed.all_reduce_mean(torch.tensor(
        [float(interrupt["stop"])], device=run.device)) > 0)


def _where_saved(run: Run) -> str:
    if run.ckpt_path is None:
        return "no --out folder, nothing saved"
    return f"checkpoint saved to {run.ckpt_path}; run the same command again to resume"


def _progress_bar(run: Run):
    from tqdm.auto import tqdm  # works in terminals and notebooks
    desc = f"{run.cfg.method} [{run.cfg.profile}]"
    if run.cfg.max_seconds is not None:  # a time budget: the bar counts training seconds
        return tqdm(total=run.cfg.max_seconds, initial=run.wall_before, unit="s", desc=desc,
                    dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s "
                                                   "[{elapsed}<{remaining}{postfix}]")
    return tqdm(total=run.cfg.steps, initial=run.start_step, desc=desc, dynamic_ncols=True)


def _report(run: Run, output, done: int, at: int, last: bool, bar) -> None:
    """Record the first, every `log_every`-th and `eval_every`-th and the last step in the
    history; `done` steps are done, the last one read the schedules at index `at`."""
    cfg = run.cfg
    evaluates = bool(cfg.eval_every) and done % cfg.eval_every == 0
    if done % cfg.log_every == 0 or evaluates or last or done == 1:
        record = _log_record(run, output, done - 1, at)
        record["time_s"] = run.wall()
        if evaluates and run.rank == 0:
            with run.clock_paused():
                t_eval = time.perf_counter()
                record["knn_top1"] = run.knn()
                record["eval_s"] = time.perf_counter() - t_eval
            run.method.train()
        run.history.append(record)
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.4g}")
    if bar is not None:
        bar.update(1 if cfg.max_seconds is None else min(run.wall(), cfg.max_seconds) - bar.n)


def _finish(run: Run, done: int, evaluate_knn: bool) -> RunResult:
    """Final kNN (process 0), the last checkpoint and results.json, after `done` steps."""
    train_wall = run.wall()
    metrics = {"train_wall_s": train_wall}
    last = run.history[-1] if run.history else {}
    if evaluate_knn and run.rank == 0 and last.get("step") == done and "knn_top1" in last:
        # eval_every already measured the final network: the same weights, the same kNN
        metrics["knn_top1"], metrics["eval_wall_s"] = last["knn_top1"], last.get("eval_s", 0.0)
    elif evaluate_knn and run.rank == 0:
        t_eval = time.perf_counter()
        metrics["knn_top1"] = run.knn()
        metrics["eval_wall_s"] = time.perf_counter() - t_eval
    if run.history and "std_l2" in run.history[-1]:
        metrics.update(std_l2=run.history[-1]["std_l2"], rank=run.history[-1]["rank"])
    result = RunResult(method=run.method, config=run.cfg, history=run.history,
                       metrics=metrics, wall_s=train_wall,
                       device=device_description(run.device),
                       out=run.out if run.writes else None)
    if run.writes:
        _checkpoint(run, done, train_wall)
        write_results(result, run.out / "results.json", data_name=run.train_data.name)
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


def _log_record(run: Run, output, step: int, at: int) -> dict[str, float]:
    """Loss, named terms and collapse diagnostics of step `step` (which read the schedules
    at index `at`), with one host sync.

    Under torchrun: the loss and terms averaged over the processes, the diagnostics of the
    gathered embeddings, so the history is the one-process history of the global batch.
    """
    cfg = run.cfg
    loss, terms, z = output.loss.detach(), dict(output.terms), output.embedding
    if run.world > 1:
        values = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=run.device)
                              for v in (loss, *terms.values())])
        loss, *rest = distributed.all_reduce_mean(values).unbind()
        terms = dict(zip(terms, rest))
        if z is not None and len(z) != cfg.batch_size:  # gathering methods return all rows
            z = distributed.gather_with_grad(z.contiguous())
    loss_value = float(loss)
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(
            f"{cfg.method}: loss is {loss_value} at step {step}. The run stopped; the last "
            f"good checkpoint ({run.ckpt_path or 'none: no --out folder given'}) is kept. "
            f"Lower the learning rate (now {run.lr_schedule[at]:.3g}) or raise "
            f"warmup_steps.")
    record = {"step": step + 1, "lr": float(run.lr_schedule[at]), "loss": loss_value}
    if cfg.max_seconds is not None:
        record["schedule_step"] = at  # where the time budget placed this step
    record.update({k: float(v) for k, v in terms.items()})
    if z is not None:
        z = z.float()
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
