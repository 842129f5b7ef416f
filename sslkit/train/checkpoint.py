"""Checkpoints that survive a killed process: written to a temporary file, then renamed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, or that belongs to a different run."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically write `state`: a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic on POSIX and Windows


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(err).__name__}: {err}). It is left "
            f"untouched; delete it (or move it away) to start this run over, or pass another "
            f"--out folder.") from err
    if not isinstance(state, dict) or "step" not in state or "method" not in state:
        raise CheckpointError(f"{path} is not an sslkit checkpoint (no 'step'/'method' "
                              f"entries); point --out at a new folder.")
    return state
