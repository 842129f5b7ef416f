"""DINO: self-distillation with no labels.

Caron, Touvron, Misra, Jegou, Mairal, Bojanowski, Joulin 2021, "Emerging Properties in
Self-Supervised Vision Transformers", arXiv 2104.14294; official code facebookresearch/dino
main_dino.py (`train_one_epoch`, `DINOLoss`) and vision_transformer.py (`DINOHead`),
utils.py (`MultiCropWrapper`, `cancel_gradients_last_layer`, `cosine_scheduler`).

A student (backbone + DINOHead) is trained by the optimiser to predict, from every crop, the
softmax output a teacher gives to the two global crops; the teacher is an exponential moving
average of the student, xi <- tau * xi + (1 - tau) * theta, and receives no gradient. The
constant output is a solution of the cross-entropy, and it comes in two forms (paper
Sec. 5.3): uniform over the K dimensions, or one dimension for every input. Two operations
on the teacher's output keep DINO between them. Centering subtracts a running mean c of the
teacher logits, so no dimension can win for every input, but alone it drifts to the uniform
output (teacher entropy -> log K). Sharpening divides by a low teacher temperature, which
makes the target peaked, but alone it lets one dimension take everything (entropy -> 0).
Together they balance (paper Fig. 7: the entropy stays in between and the KL stays > 0).
`centering` and `sharpening` switch them off for the chapter's Fig. 7.

The loss has no batch statistics besides the center, which is all-reduced over processes
as in the official update_center; there is no `gather` option. ViT students: the loop builds
the backbone without stochastic depth, so the teacher copy has none either (official:
student drop_path 0.1, teacher 0).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslkit.distributed import all_reduce_mean
from sslkit.losses import dino_center_update, dino_loss
from sslkit.methods.ema import ema_update
from sslkit.methods.spec import MethodSpec, StepOutput
from sslkit.models import DINOHead
from sslkit.train.schedules import ema_momentum


@dataclass
class DINOConfig:
    # K, official --out_dim 65536 for ImageNet; 4096 is plenty for 10-100 classes at 32 px
    out_dim: int = 4096
    hidden_dim: int = 2048      # official DINOHead hidden_dim 2048 (paper Sec. 3.1)
    bottleneck_dim: int = 256   # official DINOHead bottleneck_dim 256
    # official --norm_last_layer True (the README's ViT-S/16 recipe uses False: better, less
    # stable); True fixes the prototypes' norm, so the logits are cosines
    norm_last_layer: bool = True
    use_bn_in_head: bool = False  # official --use_bn_in_head False (BN-free with a ViT)
    student_temp: float = 0.1     # official DINOLoss student_temp 0.1
    # official --teacher_temp 0.04 (default). Paper App. D: 0.04 -> 0.07 linear warm-up in
    # the first 30 epochs is best; fixed values above 0.06 collapse to the uniform output
    teacher_temp: float = 0.04
    warmup_teacher_temp: float = 0.04   # official --warmup_teacher_temp 0.04
    # official --warmup_teacher_temp_epochs 0 (default; the README's recipe uses 30 epochs);
    # in steps here
    warmup_teacher_temp_steps: int = 0
    momentum_teacher: float = 0.996  # official --momentum_teacher 0.996, cosine to 1
    center_momentum: float = 0.9     # official DINOLoss center_momentum 0.9 (paper eq. 4)
    # official --freeze_last_layer 1 (epoch): the prototypes get no gradient at first. In
    # steps here: 40 is one epoch of the 10,000-image shapes set at batch 256
    freeze_last_layer_steps: int = 40
    # local crops per image, official --local_crops_number 8 (paper ablations: 6, best
    # ViT-S run: 10); the loop passes it to the recipe through `recipe_args`
    n_local: int = 8
    # the ablation of paper Sec. 5.3 / Fig. 7:
    centering: bool = True   # False: c stays 0 (no centering)
    # False: the teacher uses the student's temperature, so its softmax is no sharper than
    # the student's. The paper does not print the value of its "no sharpening" run; tau_t =
    # tau_s is the neutral point, and App. D already sees the uniform collapse at tau_t > 0.06
    sharpening: bool = True


def _resolution_runs(views: list[Tensor]) -> list[tuple[int, int]]:
    """[(start, end)] of consecutive views with the same resolution (global, then local)."""
    runs, start = [], 0
    for i in range(1, len(views) + 1):
        if i == len(views) or views[i].shape[-2:] != views[start].shape[-2:]:
            runs.append((start, i))
            start = i
    return runs


class DINO(nn.Module):
    recipe = "dino"

    def __init__(self, backbone: nn.Module, cfg: DINOConfig):
        super().__init__()
        if cfg.n_local < 0:
            raise ValueError(f"n_local must be >= 0, got {cfg.n_local}")
        self.cfg = cfg
        # the loop merges these into build_recipe(...): 2 global crops + n_local local crops
        self.recipe_args = {"n_local": cfg.n_local}
        # student theta
        self.backbone = backbone
        self.head = DINOHead(backbone.out_dim, cfg.out_dim, cfg.hidden_dim, cfg.bottleneck_dim,
                             norm_last_layer=cfg.norm_last_layer, use_bn=cfg.use_bn_in_head)
        # teacher xi: starts as a copy of the student (official load_state_dict), changed only
        # by the EMA in after_optimizer_step: frozen for the optimiser, as officially
        self.teacher_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        # running mean of the teacher logits (paper eq. 4), kept in checkpoints
        self.register_buffer("center", torch.zeros(1, cfg.out_dim))
        self._teacher_out: tuple[Tensor, ...] | None = None  # this step's, for the center
        self.tau_schedule: Tensor | None = None
        self.teacher_temp_schedule: Tensor | None = None

    def on_train_start(self, total_steps: int) -> None:
        cfg = self.cfg
        self.tau_schedule = ema_momentum(cfg.momentum_teacher, total_steps)
        if not cfg.sharpening:
            self.teacher_temp_schedule = torch.full((total_steps,), cfg.student_temp,
                                                    dtype=torch.float64)
            return
        # official DINOLoss.teacher_temp_schedule: linear warm-up, then constant
        warm = min(cfg.warmup_teacher_temp_steps, total_steps)
        self.teacher_temp_schedule = torch.cat([
            torch.linspace(cfg.warmup_teacher_temp, cfg.teacher_temp, warm, dtype=torch.float64),
            torch.full((total_steps - warm,), cfg.teacher_temp, dtype=torch.float64)])

    def _student(self, views: list[Tensor], step: int) -> list[Tensor]:
        """Student logits per crop (official MultiCropWrapper): one backbone pass per run of
        equal-resolution crops, one head pass over all of them."""
        y = torch.cat([self.backbone(torch.cat(views[a:b])) for a, b in _resolution_runs(views)])
        z = self.head(y)  # (V*N)xK; the frozen last layer is handled in after_backward
        return list(z.chunk(len(views)))

    def after_backward(self, step: int) -> None:
        """Official utils.cancel_gradients_last_layer: in the first `freeze_last_layer_steps`
        steps the last layer's gradients are computed, then dropped, so the optimiser leaves
        it as it is (no update, no weight decay). Computing them keeps every parameter in the
        graph, which DistributedDataParallel requires."""
        if step < self.cfg.freeze_last_layer_steps:
            for p in self.head.last_layer.parameters():
                p.grad = None

    def forward(self, views: list[Tensor], step: int) -> StepOutput:
        self._check_ready(views)
        student_out = self._student(views, step)  # each NxK, every crop
        # only the 2 global crops go through the teacher
        teacher_out = self.teacher_head(self.teacher_backbone(torch.cat(views[:2]))).chunk(2)
        teacher_temp = float(self.teacher_temp_schedule[step])
        # dino_loss centres and sharpens the teacher's output, and applies sg(.) to it
        loss, terms = dino_loss(student_out, teacher_out, self.center, self.cfg.student_temp,
                                teacher_temp, return_terms=True)
        self._teacher_out = teacher_out  # the center follows it after the optimiser step
        terms["teacher_temp"] = torch.tensor(teacher_temp)
        # the collapse diagnostics read the student's logits of the first global crop
        return StepOutput(loss, terms, student_out[0].detach())

    def _check_ready(self, views: list[Tensor]) -> None:
        if self.teacher_temp_schedule is None:
            raise RuntimeError("call on_train_start(total_steps) before training DINO")
        if len(views) < 2:
            raise ValueError(f"DINO needs 2 global crops (then local ones), got {len(views)} "
                             f"view(s); use the 'dino' recipe")

    @torch.no_grad()
    def after_optimizer_step(self, step: int) -> None:
        if self.tau_schedule is None:
            raise RuntimeError("call on_train_start(total_steps) before training DINO")
        tau = float(self.tau_schedule[step])
        # xi <- tau xi + (1 - tau) theta; BatchNorm statistics stay the teacher's own
        ema_update([self.teacher_backbone, self.teacher_head], [self.backbone, self.head], tau)
        if self.cfg.centering and self._teacher_out is not None:
            # c <- m c + (1 - m) mean of the teacher logits (paper eq. 4, update_center), the
            # mean over every process's crops, as the official code all-reduces it
            local_mean = torch.cat(self._teacher_out).float().mean(dim=0, keepdim=True)
            self.center.copy_(dino_center_update(self.center, [all_reduce_mean(local_mean)],
                                                 self.cfg.center_momentum))
        self._teacher_out = None


SPEC = MethodSpec(
    config=DINOConfig,
    module=DINO,
    paper="Caron et al. 2021, DINO (arXiv 2104.14294)",
    train_defaults={
        # 500 steps on 16 px views (local crops 8 px) for about the CPU time of 150 on 32 px,
        # with the BN head (official use_bn_in_head False). Shapes, seed 0, kNN (untrained
        # 0.211): 150 steps 0.198 (BN head 0.207, + momentum 0.9 0.207, + lr 1e-3 0.216,
        # + K 2048 0.245), 500 steps at 16 px 0.196, with the BN head 0.534 (issue 12,
        # benchmarks/README.md)
        "smoke": dict(view_size=16, steps=500,
                      method_args=dict(out_dim=256, hidden_dim=256, bottleneck_dim=64,
                                       n_local=2, freeze_last_layer_steps=2,
                                       momentum_teacher=0.99, use_bn_in_head=True)),
        # tau 0.99 for a 700-step run (official: 0.9995 for small batches over 100 epochs)
        # whole 32 px views: the profile's 24 px would shrink the local crops to 8 px, and
        # for Self-Classifier, which shares this recipe, 24 px did not pay (0.413-0.417 vs
        # 0.418 at 150 s; benchmarks/README.md)
        "cpu": dict(view_size=32,
                    method_args=dict(out_dim=2048, hidden_dim=512, momentum_teacher=0.99,
                                     n_local=4, freeze_last_layer_steps=40)),
        # official ViT recipe: AdamW, lr 5e-4 per 256 images, 10 warm-up epochs (~1000
        # steps of CIFAR-10 at batch 512), wd 0.04 (its cosine to 0.4 is not implemented,
        # nor gradient clipping at 3.0 or the student's drop_path 0.1), teacher temp 0.04 ->
        # 0.07 in the first 30 epochs (~2900 steps), last layer frozen for one epoch (97)
        "gpu": dict(backbone="vit_tiny", optimizer="adamw", lr=5e-4, weight_decay=0.04,
                    warmup_steps=1000,
                    method_args=dict(teacher_temp=0.07, warmup_teacher_temp_steps=2900,
                                     freeze_last_layer_steps=97, n_local=6)),
    },
)
