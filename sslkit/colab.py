"""A chapter's first cell on Google Colab: install sslkit beside Colab's torch, reuse the book's
stored results, and keep checkpoints on Drive. Each chapter then declares its runs and prints
`sslkit.experiments.plan` of them: which are stored, and how long the rest will train here.

The cell clones the repository (shallow), puts it on `sys.path`, and calls `prepare()`:

    import os, subprocess, sys
    if "google.colab" in sys.modules:
        if not os.path.isdir("/content/sslkit"):
            subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, "/content/sslkit"],
                           check=True)
        sys.path.insert(0, "/content/sslkit")
        from sslkit import colab
        colab.prepare("/content/sslkit")

Off Colab the cell does nothing: sslkit is installed already (the README's set-up).

Why each step:
- `pip install --no-deps -e CLONE`: Colab's torch is a CUDA build matched to its driver;
  reinstalling torch would download gigabytes and may break CUDA. `--no-deps` never touches
  it; `check_requirements` then says what (if anything) is missing or too old.
- The clone holds `results/`, which a pip package does not: with SSLKIT_RESULTS pointing at
  it, a chapter reuses the runs the book shows instead of retraining them.
- The profile defaults to `cpu` there, the profile of the stored results; set
  SSLKIT_PROFILE=gpu before the cell to train the gpu profile (ResNet-18) instead.
- `runs/` (checkpoints) is linked to a Drive folder when Drive is mounted: a Colab session
  dies after idle time, and a run resumes from its last checkpoint in the next one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# what pyproject.toml asks of the packages sslkit does not install itself on Colab
REQUIREMENTS = {"torch": (2, 3), "torchvision": (0, 18), "numpy": (1, 24), "PIL": (9, 0),
                "tqdm": (4, 66), "matplotlib": (3, 7)}
DRIVE = Path("/content/drive")


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def pip_command(repo: str | Path) -> list[str]:
    """The pip command that installs the clone at `repo` and nothing else (torch untouched)."""
    return [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(repo)]


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_requirements() -> list[str]:
    """What the installed packages lack for sslkit: one line per missing or too old package."""
    import importlib

    problems = []
    for name, least in REQUIREMENTS.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            problems.append(f"{name} is missing: pip install '{name}>={'.'.join(map(str, least))}'")
            continue
        if _version(getattr(module, "__version__", "0")) < least:
            problems.append(f"{name} {module.__version__} is older than "
                            f"{'.'.join(map(str, least))}, which sslkit needs")
    return problems


def link_runs_to_drive(repo: str | Path, drive_folder: str | Path) -> Path:
    """Make `repo/runs` a link to `drive_folder` (created), where checkpoints outlive the session.

    An existing real `runs/` folder is left alone (its checkpoints would be lost), and said so.
    """
    runs, target = Path(repo) / "runs", Path(drive_folder)
    target.mkdir(parents=True, exist_ok=True)
    if runs.is_symlink():
        runs.unlink()
    elif runs.exists():
        raise FileExistsError(f"{runs} already holds checkpoints; move them to {target} and "
                              f"run this again, or skip the Drive link (drive_folder=None)")
    runs.symlink_to(target, target_is_directory=True)
    return target


def prepare(repo: str | Path = "/content/sslkit", *,
            drive_folder: str | Path | None = DRIVE / "MyDrive" / "sslkit-runs",
            mount_drive: bool = True, run=subprocess.run) -> dict[str, str]:
    """Set a Colab runtime up for a chapter; a no-op (returns {}) anywhere else.

    Installs the clone at `repo` without its dependencies (`pip_command`), points
    SSLKIT_RESULTS at its stored results, defaults SSLKIT_PROFILE to `cpu` (the profile of
    those results), and links `runs/` to `drive_folder` on Google Drive (mounting it first
    when `mount_drive`; `drive_folder=None`: checkpoints stay in the session).
    Returns the environment variables it set.
    """
    if not in_colab():
        return {}
    repo = Path(repo)
    if not (repo / "pyproject.toml").exists():
        raise FileNotFoundError(f"{repo} is not a clone of the sslkit repository: clone it "
                                f"first (git clone --depth 1 <repository> {repo})")
    run(pip_command(repo), check=True)
    for line in check_requirements():
        print(f"warning: {line}")
    env = {"SSLKIT_RESULTS": str(repo / "results")}
    if not os.environ.get("SSLKIT_PROFILE"):
        env["SSLKIT_PROFILE"] = "cpu"
    os.environ.update(env)
    if drive_folder is not None:
        if mount_drive and not (DRIVE / "MyDrive").exists():
            from google.colab import drive  # asks the reader to authorise
            drive.mount(str(DRIVE))
        print(f"checkpoints: {link_runs_to_drive(repo, drive_folder)} (a run resumes there "
              f"after the session ends)")
    print(f"stored results: {env['SSLKIT_RESULTS']}; profile "
          f"{os.environ['SSLKIT_PROFILE']} (set SSLKIT_PROFILE=gpu before this cell to "
          f"train the gpu profile instead: hours per chapter)")
    return env
