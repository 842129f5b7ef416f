"""Reference losses, written from each method's official code and in its style.

The tests compare sslkit.losses against these, values and gradients. They follow the
official code's structure and operations (in-place ops, nn.BatchNorm1d, nn.CosineSimilarity,
concatenated crops split with .chunk, ...), so that an error in sslkit's rewrite shows up
as a difference. The only changes: torch.distributed calls are dropped (one process), and
JAX is translated to torch. Do not import sslkit here.
"""

import numpy as np
import torch
import torch.distributed.tensor  # noqa: F401  (see below)
import torch.nn as nn
import torch.nn.functional as F

# torch.testing.assert_close imports torch.distributed.tensor on its first call, which takes
# about a second on a CPU; importing it here moves that cost to test collection, so that no
# single test pays it.


# ---------------------------------------------------------------------------------------
# BYOL: google-deepmind/deepmind-research byol/utils/helpers.py + byol/byol_experiment.py
# ---------------------------------------------------------------------------------------

def l2_normalize(x, axis=None, epsilon=1e-12):
    """l2 normalize a tensor on an axis with numerical stability."""
    square_sum = torch.sum(torch.square(x), dim=axis, keepdim=True)
    x_inv_norm = torch.rsqrt(torch.clamp(square_sum, min=epsilon))
    return x * x_inv_norm


def regression_loss(x, y):
    """Byol's regression loss, per sample."""
    normed_x, normed_y = l2_normalize(x, axis=-1), l2_normalize(y, axis=-1)
    return torch.sum((normed_x - normed_y) ** 2, dim=-1)


def byol_repr_loss(prediction_view1, prediction_view2, projection_view1, projection_view2):
    """byol_experiment.py `loss_fn`, representation part: both directions summed, then mean."""
    repr_loss = regression_loss(prediction_view1, projection_view2.detach())
    repr_loss = repr_loss + regression_loss(prediction_view2, projection_view1.detach())
    return torch.mean(repr_loss)


# ---------------------------------------------------------------------------------------
# SimSiam: facebookresearch/simsiam simsiam/builder.py + main_simsiam.py
# ---------------------------------------------------------------------------------------

def simsiam_symmetric_loss(p1, p2, z1, z2):
    """main_simsiam.py `train`; the builder returns the targets detached."""
    criterion = nn.CosineSimilarity(dim=1)
    z1, z2 = z1.detach(), z2.detach()
    return -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5


# ---------------------------------------------------------------------------------------
# Barlow Twins: facebookresearch/barlowtwins main.py
# ---------------------------------------------------------------------------------------

def off_diagonal(x):
    # return a flattened view of the off-diagonal elements of a square matrix
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class BarlowTwinsLoss(nn.Module):
    """`BarlowTwins.forward` after the projector, for one process."""

    def __init__(self, num_features, lambd=0.0051):
        super().__init__()
        self.lambd = lambd
        # normalization layer for the representations z1 and z2
        self.bn = nn.BatchNorm1d(num_features, affine=False)

    def forward(self, z1, z2):
        batch_size = z1.shape[0]
        self.bn.to(z1.dtype)
        # empirical cross-correlation matrix
        c = self.bn(z1).T @ self.bn(z2)
        c.div_(batch_size)
        on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
        off_diag = off_diagonal(c).pow_(2).sum()
        loss = on_diag + self.lambd * off_diag
        return loss


# ---------------------------------------------------------------------------------------
# VICReg: facebookresearch/vicreg main_vicreg.py
# ---------------------------------------------------------------------------------------

def vicreg_forward(x, y, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0):
    """`VICReg.forward` after the projector, for one process."""
    batch_size, num_features = x.shape

    repr_loss = F.mse_loss(x, y)

    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)

    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2

    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)
    cov_loss = off_diagonal(cov_x).pow_(2).sum().div(
        num_features
    ) + off_diagonal(cov_y).pow_(2).sum().div(num_features)

    loss = (
        sim_coeff * repr_loss
        + std_coeff * std_loss
        + cov_coeff * cov_loss
    )
    return loss


# ---------------------------------------------------------------------------------------
# DINO: facebookresearch/dino main_dino.py, DINOLoss
# ---------------------------------------------------------------------------------------

class DINOLoss(nn.Module):
    """`DINOLoss` for one process: the center is averaged over the local batch only."""

    def __init__(self, out_dim, ncrops, warmup_teacher_temp, teacher_temp,
                 warmup_teacher_temp_epochs, nepochs, student_temp=0.1,
                 center_momentum=0.9):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.ncrops = ncrops
        self.register_buffer("center", torch.zeros(1, out_dim))
        # teacher temperature: linear warm-up, then constant
        self.teacher_temp_schedule = np.concatenate((
            np.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs),
            np.ones(nepochs - warmup_teacher_temp_epochs) * teacher_temp
        ))

    def forward(self, student_output, teacher_output, epoch):
        student_out = student_output / self.student_temp
        student_out = student_out.chunk(self.ncrops)

        # teacher centering and sharpening
        temp = self.teacher_temp_schedule[epoch]
        teacher_out = F.softmax((teacher_output - self.center) / temp, dim=-1)
        teacher_out = teacher_out.detach().chunk(2)

        total_loss = 0
        n_loss_terms = 0
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    # skip the pair where student and teacher see the same view
                    continue
                loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
                total_loss += loss.mean()
                n_loss_terms += 1
        total_loss /= n_loss_terms
        self.update_center(teacher_output)
        return total_loss

    @torch.no_grad()
    def update_center(self, teacher_output):
        batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
        batch_center = batch_center / len(teacher_output)
        # ema update
        self.center = self.center * self.center_momentum + batch_center * (1 - self.center_momentum)


# ---------------------------------------------------------------------------------------
# Self-Classifier: elad-amrani/self-classifier src/loss.py (defaults from src/train.py)
# ---------------------------------------------------------------------------------------

class SelfClassifierLoss(nn.Module):
    """`Loss` for one process: AllGather and keep_current are identities there."""

    def __init__(self, row_tau=0.1, col_tau=0.05, eps=1e-12):
        super().__init__()
        self.row_tau = row_tau
        self.col_tau = col_tau
        self.eps = eps

    def forward(self, out):
        total_loss = 0.0
        num_loss_terms = 0

        for cls_out in out:  # classifiers
            const = cls_out[0].shape[0] / cls_out[0].shape[1]
            target = []

            for view_i in cls_out:
                view_i_target = F.softmax(view_i / self.col_tau, dim=0)
                view_i_target = F.normalize(view_i_target, p=1, dim=1, eps=self.eps)
                target.append(view_i_target)

            for view_j_idx, view_j in enumerate(cls_out):  # view j
                view_j_pred = F.softmax(view_j / self.row_tau, dim=1)
                view_j_pred = F.normalize(view_j_pred, p=1, dim=0, eps=self.eps)
                view_j_log_pred = torch.log(const * view_j_pred + self.eps)

                for view_i_idx, view_i_target in enumerate(target):
                    if view_i_idx == view_j_idx or (view_i_idx >= 2 and view_j_idx >= 2):
                        # same view, or both views local
                        continue
                    # cross entropy
                    loss_i_j = - torch.mean(torch.sum(view_i_target * view_j_log_pred, dim=1))
                    total_loss += loss_i_j
                    num_loss_terms += 1

        total_loss /= num_loss_terms
        return total_loss
