"""SimSiam's loss: negative cosine similarity to a stop-gradient target."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sslkit.losses._checks import check_pair
from sslkit.losses._precision import in_float32


@in_float32
def simsiam_loss(p: Tensor, z: Tensor, *, stop_gradient: bool = True,
                 return_terms: bool = False):
    """SimSiam's D(p, z) for one direction, averaged over the batch.

        D(p, z) = -1/N sum_n cos(p_n, sg(z_n)),   cos(a, b) = <a, b> / (||a|| ||b||)

    Paper: Chen & He 2020, "Exploring Simple Siamese Representation Learning",
    arXiv 2011.10566, Sec. 3 and Algorithm 1.
    Official code: facebookresearch/simsiam simsiam/builder.py (returns `z1.detach()`,
    `z2.detach()`) and main_simsiam.py (`nn.CosineSimilarity(dim=1)`, mean over the batch).

    p: (N, D) prediction h(f(x1)) of one view.
    z: (N, D) projection f(x2) of the other view; it receives no gradient.

    Stop-gradient: applied here, to z, where the paper writes sg(.) (Algorithm 1's D(p, z):
    `z = z.detach()`), so that code calling the loss cannot forget it.
    stop_gradient=False removes it, the ablation of the paper's Sec. 4.1 (Fig. 2): without
    it SimSiam collapses. Keep the default for training.
    The paper's symmetric loss is the mean of both directions, as in main_simsiam.py:
    0.5 * (simsiam_loss(p1, z2) + simsiam_loss(p2, z1)).

    Terms: `cos_sim`, the mean cosine similarity between p and z (loss = -cos_sim).
    Deviation: none. (The official code puts the detach in the model's forward; here it is
    in the loss, where Algorithm 1 writes it.)
    """
    check_pair("simsiam_loss", p, z, names=("p", "z"))
    if stop_gradient:
        z = z.detach()  # sg(z): what keeps SimSiam from collapsing (paper Sec. 4.1)
    cos_sim = (F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1)  # (N,)
    loss = -cos_sim.mean()
    if return_terms:
        return loss, {"cos_sim": cos_sim.mean().detach()}
    return loss
