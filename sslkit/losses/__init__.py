"""One pure function per method: (tensors) -> scalar loss.

With `return_terms=True` a loss returns `(loss, terms)`, where `terms` is a dict of named,
detached scalar tensors (what the book plots). Each docstring carries the equation, the
arXiv id, the official code followed, the shapes, and any deviation from the official code.
Wrong shapes and too-small batches raise ValueError saying how to fix the call.

Two conventions hold for every loss. Where the paper writes a stop-gradient sg(.), the loss
takes the target as an argument and applies sg(.) to it itself (byol_loss, simsiam_loss,
dino_loss, obow_loss), so code calling it cannot forget it. And a loss a method calls runs
in float32 (`@in_float32`), whatever precision the networks ran in.
"""

from sslkit.losses.barlow_twins import barlow_twins_loss, cross_correlation, off_diagonal
from sslkit.losses.byol import byol_loss
from sslkit.losses.dino import dino_center_update, dino_loss
from sslkit.losses.self_classifier import self_classifier_loss, siamese_ce_loss
from sslkit.losses.simsiam import simsiam_loss
from sslkit.losses.vicreg import covariance_loss, invariance_loss, variance_loss, vicreg_loss

from sslkit.losses.aae import aae_loss
from sslkit.losses.amdim import amdim_loss, amdim_loss_multiscale
from sslkit.losses.corinfomax import CorInfoMaxState, corinfomax_loss, corinfomax_state
from sslkit.losses.obow import bow_perplexity, bow_target, obow_loss, word_distances
from sslkit.losses.twist import twist_loss
from sslkit.losses.wmse import whiten, wmse_loss

__all__ = [
    "barlow_twins_loss",
    "byol_loss",
    "covariance_loss",
    "cross_correlation",
    "dino_center_update",
    "dino_loss",
    "invariance_loss",
    "off_diagonal",
    "self_classifier_loss",
    "siamese_ce_loss",
    "simsiam_loss",
    "variance_loss",
    "vicreg_loss",
    "aae_loss",
    "amdim_loss",
    "amdim_loss_multiscale",
    "CorInfoMaxState",
    "corinfomax_loss",
    "corinfomax_state",
    "bow_perplexity",
    "bow_target",
    "obow_loss",
    "word_distances",
    "twist_loss",
    "whiten",
    "wmse_loss",
]
