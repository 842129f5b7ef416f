"""The training loop, its configuration, schedules, optimisers and checkpoints."""

from sslkit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sslkit.train.config import PROFILES, TrainConfig
from sslkit.train.loop import NonFiniteLossError, RunResult, train
from sslkit.train.optim import LARS, OPTIMIZERS, build_optimizer
from sslkit.train.schedules import constant, ema_momentum, warmup_cosine

__all__ = ["CheckpointError", "LARS", "NonFiniteLossError", "OPTIMIZERS", "PROFILES",
           "RunResult", "TrainConfig", "build_optimizer", "constant", "ema_momentum",
           "load_checkpoint", "save_checkpoint", "train", "warmup_cosine"]
