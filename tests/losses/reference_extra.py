"""Reference losses written from the official code, independent of sslkit.

Each function follows its official source line by line (CUDA calls, DataParallel hacks,
argparse objects and torch.distributed calls removed; deprecated torch calls replaced by
their torch.linalg equivalents). The sslkit tests compare against these in float64.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.functional import conv2d

# --------------------------------------------------------------------------------------------
# AMDIM: Philip-Bachman/amdim-public, costs.py
# --------------------------------------------------------------------------------------------


def amdim_tanh_clip(x, clip_val=10.0):
    if clip_val is not None:
        return clip_val * torch.tanh((1.0 / clip_val) * x)
    return x


def amdim_model_scores(r_src, r_trg, mask_mat, tclip=20.0):
    """NCE_MI_MULTI._model_scores: r_src (n_batch, n_rkhs), r_trg (n_rkhs, n_batch * n_locs)."""
    n_batch_gpu = mask_mat.size(0)
    n_batch = mask_mat.size(1)
    n_locs = r_trg.size(1) // n_batch
    n_rkhs = r_src.size(1)
    mask_pos = mask_mat.unsqueeze(dim=2).expand(-1, -1, n_locs).to(r_src.dtype)
    mask_neg = 1.0 - mask_pos
    raw_scores = torch.mm(r_src, r_trg)
    raw_scores = raw_scores.reshape(n_batch_gpu, n_batch, n_locs)
    raw_scores = raw_scores / n_rkhs**0.5
    lgt_reg = 4e-2 * (raw_scores**2.0).mean()
    raw_scores = amdim_tanh_clip(raw_scores, clip_val=tclip)
    pos_scores = (mask_pos * raw_scores).sum(dim=1)
    neg_scores = (mask_neg * raw_scores) - (tclip * mask_pos)
    neg_scores = neg_scores.reshape(n_batch_gpu, -1)
    mask_neg = mask_neg.reshape(n_batch_gpu, -1)
    neg_maxes = torch.max(neg_scores, dim=1, keepdim=True)[0]
    neg_sumexp = (mask_neg * torch.exp(neg_scores - neg_maxes)).sum(dim=1, keepdim=True)
    all_logsumexp = torch.log(torch.exp(pos_scores - neg_maxes) + neg_sumexp)
    pos_shiftexp = pos_scores - neg_maxes
    nce_scores = pos_shiftexp - all_logsumexp
    return nce_scores, pos_scores, lgt_reg


def amdim_loss_g2l(r_src, r_trg, mask_mat, tclip=20.0):
    nce_scores, _, lgt_reg = amdim_model_scores(r_src, r_trg, mask_mat, tclip)
    return -nce_scores.mean(), lgt_reg


def amdim_sample_src_ftr(r_cnv, mask_idx):
    """LossMultiNCE._sample_src_ftr with the random mask indices given (None: 1x1 map)."""
    n_batch, n_rkhs = r_cnv.size(0), r_cnv.size(1)
    if mask_idx is not None:
        h, w = r_cnv.shape[2:]
        masks = np.zeros((h, w, 1, h, w))
        for i in range(h):
            for j in range(w):
                masks[i, j, 0, i, j] = 1
        masks = torch.tensor(masks).to(torch.bool).reshape(-1, 1, h, w)
        r_cnv = torch.masked_select(r_cnv, masks[mask_idx])
    return r_cnv.reshape(n_batch, n_rkhs)


def amdim_multi_nce(r1_x1, r5_x1, r7_x1, r1_x2, r5_x2, r7_x2, mask_idx_1, mask_idx_2, tclip=20.0):
    """LossMultiNCE.forward + NCE_MI_MULTI.forward('train').

    Returns (loss_1t5, loss_1t7, loss_5t5, lgt_reg).

    r1_*: (N, D, 1, 1); r5_*, r7_*: (N, D, H, W). mask_idx_*: (N,) positions of the 5t5 sources.
    """
    n_batch, n_rkhs = int(r1_x1.size(0)), int(r1_x1.size(1))
    mask_mat = torch.eye(n_batch, dtype=r1_x1.dtype)
    r1_src_1 = amdim_sample_src_ftr(r1_x1, None)
    r5_src_1 = amdim_sample_src_ftr(r5_x1, mask_idx_1)
    r1_src_2 = amdim_sample_src_ftr(r1_x2, None)
    r5_src_2 = amdim_sample_src_ftr(r5_x2, mask_idx_2)
    r5_trg_1 = r5_x1.permute(1, 0, 2, 3).reshape(n_rkhs, -1)
    r7_trg_1 = r7_x1.permute(1, 0, 2, 3).reshape(n_rkhs, -1)
    r5_trg_2 = r5_x2.permute(1, 0, 2, 3).reshape(n_rkhs, -1)
    r7_trg_2 = r7_x2.permute(1, 0, 2, 3).reshape(n_rkhs, -1)
    loss_1t5_1, lgt_1t5_1 = amdim_loss_g2l(r1_src_1, r5_trg_2, mask_mat, tclip)
    loss_1t5_2, lgt_1t5_2 = amdim_loss_g2l(r1_src_2, r5_trg_1, mask_mat, tclip)
    loss_1t7_1, lgt_1t7_1 = amdim_loss_g2l(r1_src_1, r7_trg_2, mask_mat, tclip)
    loss_1t7_2, lgt_1t7_2 = amdim_loss_g2l(r1_src_2, r7_trg_1, mask_mat, tclip)
    loss_5t5_1, lgt_5t5_1 = amdim_loss_g2l(r5_src_1, r5_trg_2, mask_mat, tclip)
    loss_5t5_2, lgt_5t5_2 = amdim_loss_g2l(r5_src_2, r5_trg_1, mask_mat, tclip)
    loss_1t5 = 0.5 * (loss_1t5_1 + loss_1t5_2)
    loss_1t7 = 0.5 * (loss_1t7_1 + loss_1t7_2)
    loss_5t5 = 0.5 * (loss_5t5_1 + loss_5t5_2)
    lgt_reg = 0.5 * (lgt_1t5_1 + lgt_1t5_2 + lgt_1t7_1 + lgt_1t7_2 + lgt_5t5_1 + lgt_5t5_2)
    return loss_1t5, loss_1t7, loss_5t5, lgt_reg


# --------------------------------------------------------------------------------------------
# W-MSE: htdt/self-supervised, methods/whitening.py, methods/w_mse.py, norm_mse_loss
# --------------------------------------------------------------------------------------------


def whitening2d(x, eps=0.0):
    """Whitening2d.forward in training mode with track_running_stats=False."""
    num_features = x.shape[1]
    x = x.unsqueeze(2).unsqueeze(3)
    m = x.mean(0).view(num_features, -1).mean(-1).view(1, -1, 1, 1)
    xn = x - m
    T = xn.permute(1, 0, 2, 3).contiguous().view(num_features, -1)
    f_cov = torch.mm(T, T.permute(1, 0)) / (T.shape[-1] - 1)
    eye = torch.eye(num_features).type(f_cov.type())
    f_cov_shrinked = (1 - eps) * f_cov + eps * eye
    inv_sqrt = torch.linalg.solve_triangular(
        torch.linalg.cholesky(f_cov_shrinked), eye, upper=False)
    inv_sqrt = inv_sqrt.contiguous().view(num_features, num_features, 1, 1)
    decorrelated = conv2d(xn, inv_sqrt)
    return decorrelated.squeeze(2).squeeze(2)


def wmse_norm_mse_loss(x0, x1):
    x0 = F.normalize(x0)
    x1 = F.normalize(x1)
    return 2 - 2 * (x0 * x1).sum(dim=-1).mean()


def wmse(h, bs, w_size, perms, eps=0.0, loss_f=wmse_norm_mse_loss):
    """WMSE.forward after the head: h is cat(views) (n_views * bs, D); perms[t] is the
    randperm(bs) of iteration t (len(perms) = w_iter)."""
    n_views = h.shape[0] // bs
    num_pairs = n_views * (n_views - 1) // 2
    loss = 0
    for perm in perms:
        z = torch.empty_like(h)
        perm = perm.view(-1, w_size)
        for idx in perm:
            for i in range(n_views):
                z[idx + i * bs] = whitening2d(h[idx + i * bs], eps)
        for i in range(n_views - 1):
            for j in range(i + 1, n_views):
                x0 = z[i * bs: (i + 1) * bs]
                x1 = z[j * bs: (j + 1) * bs]
                loss += loss_f(x0, x1)
    loss /= len(perms) * num_pairs
    return loss


# --------------------------------------------------------------------------------------------
# TWIST: bytedance/TWIST, objective.py (EntLoss, one process: all_reduce is the identity)
# --------------------------------------------------------------------------------------------


def twist_KL(probs1, probs2, EPS):
    kl = (probs1 * (probs1 + EPS).log() - probs1 * (probs2 + EPS).log()).sum(dim=1)
    return kl.mean()


def twist_HE(probs, EPS, world_size=1):
    mean = probs.mean(dim=0)
    return -(mean * (mean + world_size * EPS).log()).sum()


def twist_EH(probs, EPS):
    ent = -(probs * (probs + EPS).log()).sum(dim=1)
    return ent.mean()


def twist_ent_loss(feat1, feat2, lam1=0.0, lam2=1.0, tau=1.0, EPS=1e-5):
    """EntLoss.forward: returns the dict {'kl', 'eh', 'he', 'final'}."""
    probs1 = F.softmax(feat1, dim=-1)
    probs2 = F.softmax(feat2, dim=-1)
    loss = {}
    loss["kl"] = 0.5 * (twist_KL(probs1, probs2, EPS) + twist_KL(probs2, probs1, EPS))
    sharpened_probs1 = F.softmax(feat1 / tau, dim=-1)
    sharpened_probs2 = F.softmax(feat2 / tau, dim=-1)
    loss["eh"] = 0.5 * (twist_EH(sharpened_probs1, EPS) + twist_EH(sharpened_probs2, EPS))
    loss["he"] = 0.5 * (twist_HE(sharpened_probs1, EPS) + twist_HE(sharpened_probs2, EPS))
    loss["final"] = loss["kl"] + ((1 + lam1) * loss["eh"] - lam2 * loss["he"])
    return loss


# --------------------------------------------------------------------------------------------
# CorInfoMax: serdarozsoy/corinfomax-ssl, cifars-tiny/loss.py, cifars-tiny/pretrain_base.py
# --------------------------------------------------------------------------------------------


class CorInfoMaxCovarianceLoss(torch.nn.Module):
    """CovarianceLoss, on the CPU, with the argparse fields as arguments."""

    def __init__(self, proj_output_dim, R_ini=1.0, la_R=0.01, la_mu=0.01, R_eps_weight=1e-8):
        super().__init__()
        self.R1 = R_ini * torch.eye(proj_output_dim, dtype=torch.float64, requires_grad=False)
        self.mu1 = torch.zeros(proj_output_dim, dtype=torch.float64, requires_grad=False)
        self.R2 = R_ini * torch.eye(proj_output_dim, dtype=torch.float64, requires_grad=False)
        self.mu2 = torch.zeros(proj_output_dim, dtype=torch.float64, requires_grad=False)
        self.la_R = la_R
        self.la_mu = la_mu
        self.R_eps = R_eps_weight * torch.eye(proj_output_dim, dtype=torch.float64)

    def forward(self, z1, z2):
        la_R = self.la_R
        la_mu = self.la_mu
        N, D = z1.size()
        mu_update1 = torch.mean(z1, 0)
        mu_update2 = torch.mean(z2, 0)
        self.new_mu1 = la_mu * (self.mu1) + (1 - la_mu) * (mu_update1)
        self.new_mu2 = la_mu * (self.mu2) + (1 - la_mu) * (mu_update2)
        z1_hat = z1 - self.new_mu1
        z2_hat = z2 - self.new_mu2
        R1_update = (z1_hat.T @ z1_hat) / N
        R2_update = (z2_hat.T @ z2_hat) / N
        self.new_R1 = la_R * (self.R1) + (1 - la_R) * (R1_update)
        self.new_R2 = la_R * (self.R2) + (1 - la_R) * (R2_update)
        cov_loss = -(torch.logdet(self.new_R1 + self.R_eps)
                     + torch.logdet(self.new_R2 + self.R_eps)) / D
        self.R1 = self.new_R1.detach()
        self.mu1 = self.new_mu1.detach()
        self.R2 = self.new_R2.detach()
        self.mu2 = self.new_mu2.detach()
        return cov_loss


def corinfomax_invariance_loss(z1, z2):
    return F.mse_loss(z1, z2)


def corinfomax_step_loss(covariance_loss, z1, z2, sim_loss_weight=250.0, cov_loss_weight=1.0):
    """pretrain_cov's loss for one batch: (loss, cov_loss, sim_loss)."""
    cov_loss = covariance_loss(z1, z2)
    sim_loss = corinfomax_invariance_loss(z1, z2)
    loss = (sim_loss_weight * sim_loss) + (cov_loss_weight * cov_loss)
    return loss, cov_loss, sim_loss


# --------------------------------------------------------------------------------------------
# AAE: DLR-RM/AugmentedAutoencoder, auto_pose/ae/decoder.py (Decoder.reconstr_loss, 'L2')
# --------------------------------------------------------------------------------------------


def aae_reconstr_loss(x, reconstruction_target, bootstrap_ratio):
    """x, reconstruction_target: (N, C, H, W) torch tensors, flattened in TF's NHWC order."""
    x_flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    target_flat = reconstruction_target.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    if bootstrap_ratio > 1:
        l2 = (target_flat - x_flat) ** 2  # tf.losses.mean_squared_error, Reduction.NONE
        l2_val, _ = torch.topk(l2, k=l2.shape[1] // bootstrap_ratio)
        return l2_val.mean()
    return ((reconstruction_target - x) ** 2).mean()  # Reduction.MEAN
