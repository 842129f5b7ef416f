"""Run-or-load for the course's experiments: one switch decides the size of every run.

A chapter asks for a run by a key and a `TrainConfig`. The result (config, history,
metrics, device, wall-clock) is kept as JSON in `results/<profile>/<key>.json`; the next time
the same key is asked for with the *same resolved config and data*, the stored result is
returned instead of training again. A changed config makes the stored result stale: it is
retrained and overwritten. `SSLKIT_RERUN=1` retrains everything.

Each run also checkpoints into `runs/<profile>/<key>/` (local, not committed): an interrupted
notebook resumes the run it was in, and a chapter that needs the trained network itself
(`need_model=True`) reloads it from the final checkpoint instead of training again.

The `smoke` profile (CI) always trains and stores its results under a temporary folder, so
smoke numbers never reach the book.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

PROFILE_NAMES = ("smoke", "cpu", "gpu")


def current_profile() -> str:
    """`SSLKIT_PROFILE` if set, else `gpu` when CUDA is available, else `cpu`."""
    profile = os.environ.get("SSLKIT_PROFILE", "").strip().lower()
    if profile:
        if profile not in PROFILE_NAMES:
            raise ValueError(f"SSLKIT_PROFILE={profile!r} is not one of "
                             f"{', '.join(PROFILE_NAMES)}")
        return profile
    return "gpu" if torch.cuda.is_available() else "cpu"


def results_dir(profile: str) -> Path:
    """Where results of `profile` live: the repository's `results/` (or `SSLKIT_RESULTS`)."""
    if profile == "smoke":
        return Path(tempfile.gettempdir()) / "sslkit-smoke-results"
    return _results_root() / profile


def runs_dir(profile: str) -> Path:
    """Where runs of `profile` checkpoint: the repository's `runs/` (never committed)."""
    root = _results_root()
    return (root.parent if root.name == "results" else root) / "runs" / profile


def _results_root() -> Path:
    root = os.environ.get("SSLKIT_RESULTS")
    if root:
        return Path(root)
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").exists():
        return repo / "results"
    return Path.home() / ".cache" / "sslkit" / "results"


def data_fingerprint(data) -> str:
    """A short hash of an ImageData: name, size and a sample of its pixels and labels."""
    h = hashlib.sha1()
    h.update(f"{data.name}|{tuple(data.images.shape)}".encode())
    step = max(len(data) // 64, 1)
    h.update(data.images[::step].contiguous().numpy().tobytes())
    h.update(data.labels[::step].contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# Published data sets: every copy of one is the same data for the purpose of reusing a
# stored run, matched by name and size. The book's runs read a JPEG copy of CIFAR-10 whose
# pixels differ slightly from torchvision's download (what Colab gets); a pixel fingerprint
# would retrain every stored run there. Generated and custom data keep the pixel match.
PUBLISHED = ("cifar10", "cifar100", "stl10")


def data_record(train_data, test_data) -> tuple[dict, dict]:
    """What a stored run records of its data: pixel fingerprints and image-tensor shapes."""
    given = [(k, d) for k, d in (("train", train_data), ("test", test_data)) if d is not None]
    return ({k: data_fingerprint(d) for k, d in given},
            {k: list(d.images.shape) for k, d in given})


def _same_data(saved: dict, name: str | None, fingerprint: dict, shapes: dict) -> bool:
    if saved.get("fingerprint") == fingerprint:
        return True
    # another copy of a published data set; results stored before the shapes were recorded
    # (all of them CIFAR-10, 50,000 + 10,000 images) match by name
    return (name in PUBLISHED and saved.get("data") == name
            and saved.get("shapes", shapes) == shapes)


@dataclass
class Experiment:
    """A finished run as the book uses it: numbers, curves and where they came from."""

    key: str
    profile: str
    config: dict[str, Any]
    history: list[dict[str, float]]
    metrics: dict[str, float]
    device: str
    wall_s: float
    data: str
    cached: bool = False
    method: torch.nn.Module | None = None  # the trained module, when trained in this session

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """(steps, values) of a logged quantity, e.g. 'loss', 'std_l2', 'teacher_entropy'."""
        rows = [h for h in self.history if name in h]
        return [int(h["step"]) for h in rows], [float(h[name]) for h in rows]

    def caption(self) -> str:
        """Which profile, data, device and wall-clock produced this result."""
        how = "stored result" if self.cached else "trained now"
        return (f"{self.key}: profile {self.profile}, data {self.data}, {self.device}, "
                f"{self.wall_s:.0f} s of training ({how})")


def run(key: str, cfg, *, train_data=None, test_data=None, need_model: bool = False,
        progress: bool = True) -> Experiment:
    """Train `cfg` under the name `key`, or load the stored result of an identical run.

    A stored result is reused when its resolved config and data fingerprint equal this run's:
    first `results/<profile>/<key>.json`, else any stored run of the profile (a *twin*: e.g.
    chapter 12's VICReg is chapter 10's, trained once). `need_model=True` also returns the
    trained network (attention maps, retrieval): it is read from the run's final checkpoint
    (`load_trained`), and the run trains only when that checkpoint is missing.
    """
    from sslkit.methods import get_method
    from sslkit.train import train

    if train_data is not None:  # the config records the data the run really trained on
        cfg = replace(cfg, data=train_data.name)
    profile = cfg.profile
    resolved = cfg.resolved(get_method(cfg.method).train_defaults).to_dict()
    fingerprint, shapes = data_record(train_data, test_data)
    data_name = train_data.name if train_data is not None else cfg.data
    rerun = os.environ.get("SSLKIT_RERUN", "") not in ("", "0")
    stored_key = None if rerun else _find_stored(key, cfg, resolved, fingerprint, shapes)
    if stored_key is not None:
        saved = json.loads((results_dir(profile) / f"{stored_key}.json").read_text())
        out = runs_dir(profile) / stored_key
        if not need_model or _finished_checkpoint(out, saved):
            exp = Experiment(key=key if stored_key == key else f"{key} (= {stored_key})",
                             profile=profile, config=saved["config"], history=saved["history"],
                             metrics=saved["metrics"], device=saved["device"],
                             wall_s=saved["wall_s"], data=saved["data"], cached=True)
            if need_model:
                exp.method = load_trained(cfg, out / "checkpoint.pt", train_data)
            return exp
        key = stored_key  # the weights are gone (a fresh clone): train the stored run again
    elif (results_dir(profile) / f"{key}.json").exists() and profile != "smoke" and not rerun:
        print(f"[{key}] the stored result is stale (config or data changed); retraining")

    out = None if profile == "smoke" else runs_dir(profile) / key
    if out is not None and not _resumable(out, resolved):
        shutil.rmtree(out, ignore_errors=True)  # finished or another config's: start over
    started = time.perf_counter()
    result = train(replace(cfg, out=str(out) if out else None), train_data=train_data,
                   test_data=test_data, progress=progress)
    exp = Experiment(key=key, profile=profile, config=_jsonable(resolved),
                     history=result.history, metrics=result.metrics, device=result.device,
                     wall_s=result.wall_s, data=data_name, method=result.method)
    payload = {"key": key, "profile": profile, "config": exp.config, "history": exp.history,
               "metrics": exp.metrics, "device": exp.device, "wall_s": exp.wall_s,
               "data": data_name, "fingerprint": fingerprint, "shapes": shapes,
               "total_s": time.perf_counter() - started}
    path = results_dir(profile) / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)
    return exp


def load_trained(cfg, checkpoint: Path, train_data=None) -> torch.nn.Module:
    """The trained method of a finished run, read from its checkpoint (no training, no data
    loading beyond the image size). The network is returned in eval mode on the CPU."""
    from sslkit.methods import get_method
    from sslkit.train.loop import build_run_backbone

    spec = get_method(cfg.method)
    resolved = cfg.resolved(spec.train_defaults)
    state = _checkpoint_state(checkpoint.parent)
    if state is None:
        raise FileNotFoundError(f"no readable checkpoint at {checkpoint}")
    image_size = train_data.image_size if train_data is not None else 32
    backbone = build_run_backbone(resolved, image_size)
    method = spec.module(backbone, spec.config(**resolved.method_args))
    method.on_train_start(resolved.steps)
    method.load_state_dict(state["method"])
    return method.eval()


def find_stored(key: str, cfg, train_data=None, test_data=None) -> str | None:
    """The key of the stored result that is this very run, if there is one: `key` itself, or
    a twin (another key with the same resolved config and data). Smoke runs are never
    stored. `cfg.data` is taken from `train_data` when given, as `run` records it."""
    from sslkit.methods import get_method

    if train_data is not None:
        cfg = replace(cfg, data=train_data.name)
    resolved = cfg.resolved(get_method(cfg.method).train_defaults).to_dict()
    return _find_stored(key, cfg, resolved, *data_record(train_data, test_data))


def _find_stored(key: str, cfg, resolved: dict, fingerprint: dict, shapes: dict) -> str | None:
    """`find_stored` for a config already resolved and data already fingerprinted."""
    folder = results_dir(cfg.profile)
    if cfg.profile == "smoke" or not folder.exists():
        return None

    def matches(path: Path) -> bool:
        saved = json.loads(path.read_text())
        return (_same_config(saved["config"], resolved)
                and _same_data(saved, cfg.data, fingerprint, shapes))

    own = folder / f"{key}.json"
    if own.exists() and matches(own):
        return key
    return next((p.stem for p in sorted(folder.glob("*.json")) if p != own and matches(p)),
                None)


@dataclass
class PlannedRun:
    """One run of a plan: whether `run` will train it, and how long that will take."""

    key: str
    config: Any                     # the resolved TrainConfig
    stored_as: str | None           # the stored result reused: the key itself or a twin
    why: str                        # "stored", "twin of K", "not stored", "stale", ...
    seconds_per_step: float | None = None        # measured on this device; None: stored
    seconds_per_evaluation: float | None = None  # one kNN evaluation, measured likewise

    @property
    def trains(self) -> bool:
        return self.seconds_per_step is not None

    @property
    def evaluations(self) -> int:
        """kNN evaluations of the run: every `eval_every` steps, and the final one unless the
        last of those fell on it (`train.loop._finish` measures it once)."""
        steps, every = self.config.steps, self.config.eval_every
        return steps // every + (steps % every != 0) if every else 1

    @property
    def seconds(self) -> float:
        if not self.trains:
            return 0.0
        training = self.config.steps * self.seconds_per_step
        limit = getattr(self.config, "max_seconds", None)  # a run that stops by the clock
        return (min(training, limit) if limit else training) \
            + self.evaluations * self.seconds_per_evaluation


@dataclass(repr=False)  # repr is the table: the text a notebook stores beside the Markdown
class Plan:
    """What a chapter's runs will cost here, before any trains (`plan`)."""

    runs: list[PlannedRun]
    device: str | None  # where the runs to train will train; None: nothing trains

    @property
    def stored(self) -> list[str]:
        return [r.key for r in self.runs if not r.trains]

    @property
    def to_train(self) -> list[str]:
        return [r.key for r in self.runs if r.trains]

    @property
    def steps(self) -> int:
        return sum(r.config.steps for r in self.runs if r.trains)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    def summary(self) -> str:
        n, stored = len(self.runs), len(self.stored)
        head = f"{n} run{'s' * (n != 1)} in this chapter: {stored} stored (reused)"
        if not self.to_train:
            return f"{head}, none will train"
        evaluations = sum(r.evaluations for r in self.runs if r.trains)
        return (f"{head}, {len(self.to_train)} will train: {self.steps:,} steps and "
                f"{evaluations} kNN evaluation{'s' * (evaluations != 1)}, about "
                f"{_duration(self.seconds)} on this device, {self.device}")

    def __add__(self, other: "Plan") -> "Plan":
        """One plan of two (`plan` takes the runs on one data set): a chapter that trains on
        several data sets adds their plans, so that its summary counts every run."""
        return Plan(self.runs + other.runs, self.device or other.device)

    def rows(self) -> list[tuple[str, ...]]:
        """(run, method, steps, batch, what differs, status) per run. "What differs" is set
        against the value most of the method's runs on the same data share (on a tie, the
        first run's), so a chapter's variants read as such and its base run as nothing
        changed; a run alone on its data is set against all the method's runs."""
        flats = [_flat(r.config) for r in self.runs]
        groups = [(r.config.method, r.config.data) for r in self.runs]
        count = Counter(groups)
        usual: dict[tuple[str, str], dict[str, str]] = {}
        for group_key in dict.fromkeys(groups):
            # its method's runs on that data; a run alone on its data: all its method's runs
            group = [f for g, f in zip(groups, flats)
                     if (g == group_key if count[group_key] > 1 else g[0] == group_key[0])]
            usual[group_key] = {k: Counter(_text(f.get(k, _DEFAULT)) for f in group)
                                .most_common(1)[0][0]
                                for k in dict.fromkeys(k for f in group for k in f)}
        rows = []
        for r, flat, group_key in zip(self.runs, flats, groups):
            # every field of the group: a run that leaves one to its default (a recipe_args
            # key it does not set) differs from runs that set it
            differs = " ".join(f"{k}={flat.get(k, _DEFAULT)}" for k in usual[group_key]
                               if k not in _BOOKKEEPING
                               and _text(flat.get(k, _DEFAULT)) != usual[group_key][k])
            status = (f"trains, {_duration(r.seconds)} at {r.seconds_per_step:.2f} s/step "
                      f"({r.why})" if r.trains else r.why)
            rows.append((r.key, r.config.method, f"{r.config.steps:,}",
                         str(r.config.batch_size), differs, status))
        return rows

    def __str__(self) -> str:
        head = ("run", "method", "steps", "batch", "differs", "status")
        rows = [head] + self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        return "\n".join([self.summary()] + ["  ".join(c.ljust(w) for c, w in zip(row, widths))
                                             .rstrip() for row in rows])

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        """Shown by Jupyter when a cell ends with the plan: the summary over a table."""
        rows = ["| run | method | steps | batch | differs from most runs of its method and "
                "data | status |", "|---|---|---:|---:|---|---|"]
        rows += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |"
                 for row in self.rows()]
        return f"**{self.summary()}.**\n\n" + "\n".join(rows)


def plan(runs: dict[str, Any], *, train_data=None, test_data=None,
         need_model: bool | tuple[str, ...] = False, probe_steps: int = 3) -> Plan:
    """Which of `runs` ({key: TrainConfig}, what a chapter passes to `run`) are stored, which
    will train, and how long they will take on this device, before any of them trains.

    A run trains exactly when `run` would train it: no stored result is this run (its key or
    a twin), SSLKIT_RERUN is set, the profile is smoke, or `need_model` names it (True: all)
    and its final checkpoint is missing (a fresh clone has results but no weights).
    The time is measured, not guessed, and only for the runs that will train: 1 + `probe_steps`
    steps of each distinct run (its method, network, batch, views and method settings; the
    first step is not counted, `sslkit.train.budget.seconds_per_step`), and one kNN evaluation
    timed on a slice of its bank and queries and scaled to their sizes. Nothing is written:
    the probes keep no checkpoint or result, and the global random state is restored.
    """
    from sslkit.methods import get_method
    from sslkit.train.loop import device_description, load_data, resolve_device

    rerun = os.environ.get("SSLKIT_RERUN", "") not in ("", "0")
    record = data_record(train_data, test_data)
    planned = []
    for key, cfg in runs.items():
        if train_data is not None:  # the config records the data the run trains on, as in run
            cfg = replace(cfg, data=train_data.name)
        resolved = cfg.resolved(get_method(cfg.method).train_defaults)
        stored = None if rerun else _find_stored(key, cfg, resolved.to_dict(), *record)
        why = _why(key, cfg.profile, stored, rerun)
        if stored and (need_model is True or key in (need_model or ())):
            saved = json.loads((results_dir(cfg.profile) / f"{stored}.json").read_text())
            if not _finished_checkpoint(runs_dir(cfg.profile) / stored, saved):
                why, stored = f"{why}, but its weights are needed and not here", None
        planned.append(PlannedRun(key, resolved, stored, why))
    training = [r for r in planned if r.stored_as is None]
    if not training:
        return Plan(planned, None)
    if train_data is None or test_data is None:
        train_data, test_data = load_data(training[0].config)
    device = resolve_device(training[0].config.device)
    step_times: dict[str, float] = {}
    eval_times: dict[str, float] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for r in training:
            fields = [f for f in r.config.to_dict() if f not in _STEP_NEUTRAL]
            sig = _signature(r.config, fields)
            if sig not in step_times:
                step_times[sig] = _seconds_per_step(r.config, train_data, test_data,
                                                    probe_steps)
            r.seconds_per_step = step_times[sig]
            sig = _signature(r.config, _EVAL_FIELDS)
            if sig not in eval_times:
                eval_times[sig] = _seconds_per_evaluation(r.config, train_data, test_data)
            r.seconds_per_evaluation = eval_times[sig]
    return Plan(planned, device_description(device))


# Fields that do not change the time of a training step: runs that differ only in them share
# one measurement. A kNN evaluation's time depends only on the network and the set sizes.
_STEP_NEUTRAL = ("steps", "lr", "weight_decay", "warmup_steps", "seed", "log_every",
                 "eval_every", "checkpoint_every", "eval_train_size", "eval_test_size",
                 "knn_k", "knn_temperature", "out", "train_size", "max_seconds")
_EVAL_FIELDS = ("backbone", "norm", "backbone_args", "device", "channels_last",
                "eval_train_size", "eval_test_size", "data")


_BOOKKEEPING = ("out", "log_every", "checkpoint_every")  # not what a run learns
_DEFAULT = "default"  # in a plan's table: a recipe argument that a run does not set


def _signature(cfg, fields) -> str:
    return json.dumps({k: v for k, v in cfg.to_dict().items() if k in fields},
                      sort_keys=True, default=str)


def _why(key: str, profile: str, stored: str | None, rerun: bool) -> str:
    """Why `run` reuses or trains `key`, in a few words."""
    if rerun:
        return "SSLKIT_RERUN is set"
    if profile == "smoke":
        return "smoke runs are not stored"
    if stored:
        return "stored" if stored == key else f"stored as {stored}"
    if (results_dir(profile) / f"{key}.json").exists():
        return "stale: its config or data changed"
    return "not stored"


def _seconds_per_step(cfg, train_data, test_data, probe_steps: int) -> float:
    from sslkit.train.budget import seconds_per_step

    return seconds_per_step(cfg, train_data=train_data, test_data=test_data,
                            probe_steps=max(probe_steps, 2))


def _seconds_per_evaluation(cfg, train_data, test_data, n_images: int = 256,
                            n_queries: int = 256) -> float:
    """One kNN evaluation of `cfg` (`train.loop.knn_eval`) on this device, estimated from a
    slice: the backbone's features of `n_images` images, scaled to the bank and the queries,
    plus the neighbour search of `n_queries` queries against a bank of the full size."""
    from sslkit.evaluate import extract_features, knn_accuracy
    from sslkit.train.loop import build_run_backbone, resolve_device

    device = resolve_device(cfg.device)
    n_bank = min(cfg.eval_train_size or len(train_data), len(train_data))
    n_query = min(cfg.eval_test_size or len(test_data), len(test_data))
    backbone = build_run_backbone(cfg, train_data.image_size).to(device)
    images = train_data.images[:n_images]
    stats = dict(mean=(0.5,) * 3, std=(0.25,) * 3, device=device)  # any values time the same
    extract_features(backbone, images[:8], **stats).cpu()  # warm-up: first-call overheads
    start = time.perf_counter()
    extract_features(backbone, images, **stats).cpu()  # .cpu() waits for the device
    per_image = (time.perf_counter() - start) / len(images)
    bank = torch.randn(n_bank, backbone.out_dim, device=device)
    labels = torch.randint(len(train_data.classes), (n_bank,), device=device)
    queries = min(n_queries, n_query)
    start = time.perf_counter()
    knn_accuracy(bank, labels, bank[:queries], labels[:queries], k=cfg.knn_k,
                 temperature=cfg.knn_temperature, num_classes=len(train_data.classes))
    per_query = (time.perf_counter() - start) / queries
    return per_image * (n_bank + n_query) + per_query * n_query


def _flat(cfg) -> dict:
    """A resolved config as one flat dict: its method's settings down to the method config's
    own defaults, and backbone_args / recipe_args, spread as 'method.name', 'backbone.name'."""
    from dataclasses import asdict

    from sslkit.methods import get_method

    values = cfg.to_dict()
    values["method_args"] = asdict(get_method(cfg.method).make_config(**cfg.method_args))
    flat = {}
    for k, v in values.items():
        if isinstance(v, dict):
            flat.update({f"{k.removesuffix('_args')}.{n}": w for n, w in v.items()})
        else:
            flat[k] = v
    return flat


def _text(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _checkpoint_state(out: Path | None) -> dict | None:
    from sslkit.train.checkpoint import CheckpointError, load_checkpoint

    if out is None or not (out / "checkpoint.pt").exists():
        return None
    try:
        return load_checkpoint(out / "checkpoint.pt")
    except CheckpointError:
        return None


def _resumable(out: Path, resolved: dict) -> bool:
    """A checkpoint of this very config, unfinished: an interrupted run to continue."""
    state = _checkpoint_state(out)
    return (state is not None and _same_config(state["config"], resolved)
            and state["step"] < resolved["steps"])


def _finished_checkpoint(out: Path | None, saved: dict) -> bool:
    """The final checkpoint of the stored run (same config, all steps): its weights."""
    state = _checkpoint_state(out)
    return (state is not None and _same_config(state["config"], saved["config"])
            and state["step"] == saved["config"]["steps"])


def _same_config(a: dict, b: dict) -> bool:
    """Equal configs up to the run folder (`out`), which the stored result does not record.

    A field missing from a stored config was added to TrainConfig after that run: the run
    had the field's default, so it is compared as that.
    """
    from sslkit.train.config import with_added_fields

    a = _jsonable(with_added_fields(a))
    b = _jsonable(with_added_fields(b))
    a.pop("out", None)
    b.pop("out", None)
    return a == b


def _jsonable(obj):
    """Round-trip through JSON so tuples and lists compare equal to a stored config."""
    return json.loads(json.dumps(obj))
