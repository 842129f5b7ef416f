"""BYOL's regression loss: the online prediction regresses the target projection."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_pair
from sslkit.losses._precision import in_float32


@in_float32
def byol_loss(p: Tensor, z: Tensor, *, return_terms: bool = False):
    """BYOL's loss for one direction, averaged over the batch.

        L(p, z) = 1/N sum_n || p_n/||p_n|| - sg(z_n)/||sg(z_n)|| ||^2
                = 1/N sum_n (2 - 2 cos(p_n, sg(z_n)))

    Paper: Grill et al. 2020, "Bootstrap Your Own Latent", arXiv 2006.07733, eq. (2).
    Official code: google-deepmind/deepmind-research byol/utils/helpers.py `regression_loss`,
    averaged over the batch in byol/byol_experiment.py (lucidrains/byol-pytorch `loss_fn` is
    the same 2 - 2 cos).

    p: (N, D) online prediction q_theta(z_theta) of one view.
    z: (N, D) target projection z'_xi of the other view; it receives no gradient.

    Stop-gradient: applied here, to z, where the paper writes sg(.) (Fig. 2; official
    `loss_fn`: `jax.lax.stop_gradient`), so that code calling the loss cannot forget it.
    The paper's symmetric loss is the sum of both directions, as in byol_experiment.py:
    byol_loss(p1, z2) + byol_loss(p2, z1).

    Terms: `cos_sim`, the mean cosine similarity between p and z (loss = 2 - 2 cos_sim).
    Deviation: none. (Near-zero vectors: F.normalize clamps the norm at 1e-12, the
    official l2_normalize clamps the squared norm at 1e-12.)
    """
    check_pair("byol_loss", p, z, names=("p", "z"))
    z = z.detach()  # sg(z): the target is a constant for the online network
    cos_sim = (F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1)  # (N,)
    loss = (2 - 2 * cos_sim).mean()
    if return_terms:
        return loss, {"cos_sim": cos_sim.mean().detach()}
    return loss
