"""Augmented autoencoder (AAE): reconstruct the clean image from an augmented one.

Sundermeyer, Marton, Durner & Triebel 2019, "Augmented Autoencoders: Implicit 3D
Orientation Learning for 6D Object Detection", IJCV, arXiv 1902.01275 (the journal version of
their ECCV 2018 paper); official code DLR-RM/AugmentedAutoencoder (auto_pose/ae/encoder.py,
decoder.py, cfg/train_template.cfg). An encoder maps the augmented image to a latent code, a
decoder maps the code back to an image, and the pixel-wise L2 loss compares it with the CLEAN
image. Whatever the augmentation changes (colour, position, scale) cannot help the decoder,
so the code learns to drop it; whatever it keeps (the object's orientation) the code must
carry. Collapse is not an issue: a constant code cannot reconstruct different images. With
`augment=False` it is a plain autoencoder (input = target = clean image), which has no
reason to be invariant to anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sslkit.losses.aae import aae_loss
from sslkit.methods.spec import MethodSpec, StepOutput
from sslkit.models import ConvDecoder

__all__ = ["AAE", "AAEConfig", "SPEC"]


@dataclass
class AAEConfig:
    latent_dim: int = 128  # official LATENT_SPACE_SIZE 128 (train_template.cfg)
    # False: plain autoencoder, the input is the clean view too (chapter 2's baseline)
    augment: bool = True
    # official BOOTSTRAP_RATIO 4 (average only each image's hardest quarter of the pixels).
    # Deviation: None, the plain mean. Bootstrapping pays off on the official renders, where
    # a small object sits on an easy black background; our shapes fill 15-40 % of the image
    # and their backgrounds are textured, so most pixels are not easy. Set 4 for the official.
    bootstrap_ratio: int | None = None
    # side of the reconstructed image: the decoder is built for it (32 for CIFAR / shapes)
    image_size: int = 32
    # ConvDecoder widths from its 4x4 start up to image_size. Deviation: the official decoder
    # has 512-512-256-128 filters (NUM_FILTER reversed) for 128 px renders; ours is smaller
    # for 32 px and a CPU.
    decoder_widths: tuple[int, ...] = (128, 64, 32, 32)


class AAE(nn.Module):
    # views: [augmented, clean], both normalised with the data's mean and std
    recipe = "aae"

    def __init__(self, backbone: nn.Module, cfg: AAEConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        # official encoder: conv stack, flatten, Dense to the code (no activation); here the
        # backbone's pooled feature and a Linear
        self.to_latent = nn.Linear(backbone.out_dim, cfg.latent_dim)
        # Deviation: the official decoder ends in a sigmoid and targets [0, 1] images; ours
        # is unbounded and targets the NORMALISED clean image, the backbone's input space,
        # which the recipe already gives. The L2 thus weighs channel c by 1 / std_c^2.
        self.decoder = ConvDecoder(cfg.latent_dim, cfg.image_size,
                                   widths=tuple(cfg.decoder_widths))

    def on_train_start(self, total_steps: int) -> None:
        pass  # no schedules besides the learning rate

    def encode(self, x: Tensor) -> Tensor:
        """The latent code (N, latent_dim) of normalised images x (N, 3, H, W).

        What chapter 2 retrieves nearest neighbours with (rotation by nearest code); call it
        under `torch.no_grad()` after `.eval()` for that.
        """
        return self.to_latent(self.backbone(x))

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        self._check_views(views)
        augmented, clean = views[:2]
        x = augmented if self.cfg.augment else clean
        code = self.encode(x)  # NxL
        reconstruction = self.decoder(code)  # Nx3xHxW, normalised-image space
        # the target is the clean image: data, no gradient to stop
        loss, terms = aae_loss(reconstruction, clean, bootstrap_ratio=self.cfg.bootstrap_ratio,
                               return_terms=True)
        return StepOutput(loss, terms, code.detach())

    def _check_views(self, views: list[Tensor]) -> None:
        if len(views) < 2:
            raise ValueError(f"AAE needs the 'aae' recipe's [augmented, clean] views, got "
                             f"{len(views)} view(s).")
        clean = views[1]
        if clean.shape[-1] != self.cfg.image_size or clean.shape[-2] != self.cfg.image_size:
            raise ValueError(
                f"AAE's decoder was built for {self.cfg.image_size} px images, the views are "
                f"{tuple(clean.shape[-2:])}; set method_args={{'image_size': "
                f"{clean.shape[-1]}}}.")

    def after_optimizer_step(self, step: int) -> None:
        pass


SPEC = MethodSpec(
    config=AAEConfig,
    module=AAE,
    paper="Sundermeyer et al. 2019, Augmented Autoencoders (arXiv 1902.01275)",
    train_defaults={
        "smoke": dict(method_args=dict(latent_dim=32, decoder_widths=(64, 32, 16, 16))),
        # whole 32 px views (not the profile's 24 px): the decoder reconstructs whole images
        "cpu": dict(view_size=32, method_args=dict(latent_dim=128)),
        # official: Adam, lr 2e-4 at batch 64 (train_template.cfg), no weight decay. Not
        # scaled up 4x to "per 256": the linear rule is SGD's; the loop's batch/256 factor
        # still doubles it at batch 512.
        "gpu": dict(optimizer="adamw", lr=2e-4, weight_decay=0.0),
    },
)
