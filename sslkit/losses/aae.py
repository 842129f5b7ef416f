"""Augmented autoencoder: reconstruct the clean image from an augmented one.

Sundermeyer, Marton, Durner & Triebel 2019, "Augmented Autoencoders: Implicit 3D
Orientation Learning for 6D Object Detection", arXiv:1902.01275. Official code:
DLR-RM/AugmentedAutoencoder, `auto_pose/ae/decoder.py` (`Decoder.reconstr_loss`, L2 branch),
defaults from `auto_pose/ae/cfg/train_template.cfg` (`LOSS: L2`, `BOOTSTRAP_RATIO: 4`).
"""

from __future__ import annotations

from torch import Tensor

from sslkit.losses._precision import in_float32

__all__ = ["aae_loss"]


@in_float32
def aae_loss(
    reconstruction: Tensor,
    target: Tensor,
    *,
    bootstrap_ratio: int | None = None,
    return_terms: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """Pixel-wise L2 between decoder(encoder(augmented x)) and the clean x.

        e_i = (reconstruction_i - target_i)^2                  (P = C*H*W values per image)
        loss = mean_i mean_{p in P} e_ip                       (bootstrap_ratio None or 1)
        loss = mean_i mean_{p in top_k(e_i)} e_ip, k = P // bootstrap_ratio   (bootstrapped)

    The bootstrapped form averages only each image's k largest errors, so the decoder is
    trained on the hard pixels (edges, fine detail) instead of the easy background.

    reconstruction, target: (N, ...) of the same shape, e.g. (N, C, H, W) images.
    bootstrap_ratio: None for the plain mean; 4 is the official choice.
    Returns the scalar loss, or `(loss, terms)` with detached `mse` (plain mean, always) and,
    when bootstrapped, `bootstrap_mse` (= loss).

    Deviation: the official default is the bootstrapped loss; ours is the plain mean (pass
    `bootstrap_ratio=4` for the official one). No gradient is stopped: the target is the clean
    image, which carries none.
    """
    if reconstruction.shape != target.shape or reconstruction.dim() < 2:
        raise ValueError(
            f"aae_loss expects reconstruction and target of the same shape (N, ...), got "
            f"{tuple(reconstruction.shape)} and {tuple(target.shape)}; resize the decoder "
            "output to the target's size."
        )
    if not (reconstruction.is_floating_point() and target.is_floating_point()):
        raise TypeError(
            f"aae_loss expects floating-point images, got {reconstruction.dtype} and "
            f"{target.dtype}; convert uint8 images first (x.float() / 255, or the method's "
            "normalisation), the same way as the decoder's output scale."
        )
    err = (reconstruction - target).pow(2).flatten(1)  # N x P
    mse = err.mean()
    if bootstrap_ratio is None or bootstrap_ratio == 1:
        return (mse, {"mse": mse.detach()}) if return_terms else mse
    k = int(err.shape[1] // bootstrap_ratio) if bootstrap_ratio >= 1 else 0
    if k < 1:
        raise ValueError(
            f"aae_loss: bootstrap_ratio={bootstrap_ratio} must be >= 1 and at most the "
            f"number of values per image ({err.shape[1]})."
        )
    loss = err.topk(k, dim=1, sorted=False).values.mean()  # per image, as tf.nn.top_k
    terms = {"mse": mse.detach(), "bootstrap_mse": loss.detach()}
    return (loss, terms) if return_terms else loss
