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
