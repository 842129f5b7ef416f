# %% [markdown]
# # VICReg: variance, invariance, covariance
#
# **Goals.** After this chapter you can
# - write VICReg's three terms and say what each one prevents;
# - show, with your own runs, that without the variance term the embedding collapses to a
#   point, and that without the covariance term it keeps its spread but loses dimensions
#   (dimensional collapse);
# - show that the two branches need not share weights, nor even an architecture;
# - explain why the variance and covariance terms can replace BatchNorm in BYOL or SimSiam.
#
# Barlow Twins (previous chapter) decorrelates the embedding through one matrix that ties
# the two views together. VICReg (Bardes, Ponce & LeCun, 2022) splits that job into three
# terms, each with one purpose, and applies the two that prevent collapse to *each branch
# separately*. The result needs no BatchNorm in the head, no normalisation of the
# embeddings, no predictor, no stop-gradient, no moving average and no negatives.

# %%
# Setup: the same cell opens every chapter. On Colab it installs sslkit beside Colab's own
# torch (never replacing it), fetches the book's stored results, and keeps checkpoints on Drive.
import os, subprocess, sys
if "google.colab" in sys.modules:
    if not os.path.isdir("/content/sslkit"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "@REPOSITORY@", "/content/sslkit"],
                       check=True)
    sys.path.insert(0, "/content/sslkit")
    from sslkit import colab
    colab.prepare("/content/sslkit")  # pip --no-deps, SSLKIT_RESULTS, profile cpu, runs/ on Drive

import matplotlib.pyplot as plt
import torch

from sslkit import augment, course, experiments
from sslkit.methods import get_method
from sslkit.methods.vicreg import VICReg

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# CIFAR-10 (the embedded shapes at the smoke profile), with VICReg's views: the same
# asymmetric pair as BYOL and Barlow Twins (official `augmentations.py`,
# `TrainTransform`): view 1 always blurred and never solarised, view 2 rarely blurred
# and sometimes solarised.

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("vicreg", train_data.image_size, mean, std)
x = train_data.images[:8]
view_1, view_2 = recipe(x, torch.Generator().manual_seed(0))
course.show_views(x, {"view 1": view_1,
                   "view 2": view_2}, mean=mean, std=std)

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: VICReg, then three variants that
# each change one switch (the experiment below says why). The book's results are stored
# and reused; the plan says which will train here instead, and for how long on this device.

# %%
spec = get_method("vicreg")
base = S.config("vicreg", "long").resolved(spec.train_defaults)
variants = {  # label: (result key, method_args)
    "VICReg": ("10-vicreg-0", {}),
    "no variance term": ("10-vicreg-1", {"std_coeff": 0.0}),
    "no covariance term": ("10-vicreg-2", {"cov_coeff": 0.0}),
    "separate branches (small CNN for view 2)": ("10-vicreg-3", {
        "backbone_b": "smallcnn",
        "backbone_b_args": {"norm": base.norm, "widths": [16, 32, 64, 128]}}),
}
RUNS = {key: S.config("vicreg", "long", method_args=args) for key, args in variants.values()}
# Experiment 2: BYOL and SimSiam without BatchNorm, as chapters 5 and 6 ran them (the same
# configs: their stored results are reused as twins), and with VICReg's variance and
# covariance terms added on the projections (1.0 and 0.04: VICReg's 25 : 1 ratio).
no_bn = {  # label: (result key, method, method_args, other TrainConfig fields)
    "BYOL, no BN anywhere": ("10-byol-no-bn", "byol",
                             dict(projector_norm="none", predictor_norm="none"), dict(norm="none")),
    "SimSiam, no BN in the heads": ("10-simsiam-bn-none", "simsiam", dict(batchnorm="none"), {}),
}
VC = dict(std_coeff=1.0, cov_coeff=0.04)
vc_variants = {}  # label: (result key without the terms, result key with them)
for label, (key, method, args, fields) in no_bn.items():
    RUNS[key] = S.config(method, "long", method_args=args, **fields)
    RUNS[key + "-vc"] = S.config(method, "long", method_args={**args, **VC}, **fields)
    vc_variants[label] = (key, key + "-vc")
experiments.plan(RUNS, train_data=train_data, test_data=test_data)

# %% [markdown]
# ## The idea
#
# Each view goes through an encoder (the backbone, giving the representation $y$) and an
# *expander* (a wide MLP, giving the embedding $z$). For a batch of $n$ images the two
# embedding matrices are $Z, Z' \in \mathbb{R}^{n \times d}$; $z^j$ is column $j$ of $Z$,
# one embedding dimension across the batch. The loss has three terms:
#
# **Invariance**: the mean squared distance between the two views of each image,
#
# $$
# s(Z, Z') = \frac{1}{n} \sum_{i} \lVert z_i - z'_i \rVert_2^2 \quad \text{(sslkit divides by } d \text{ too, as the official code's MSE).}
# $$
#
# **Variance**: a hinge that keeps the standard deviation of every dimension, over the
# batch, above $\gamma = 1$,
#
# $$
# v(Z) = \frac{1}{d} \sum_{j=1}^{d} \max\!\big(0,\; \gamma - \sqrt{\operatorname{Var}(z^j) + \epsilon}\big).
# $$
#
# It uses the standard deviation, not the variance: the gradient of the variance vanishes
# as the variance goes to 0, exactly where the push is needed (the paper reports that with
# the variance inside the hinge the embeddings collapse).
#
# **Covariance**: the sum of the squared off-diagonal entries of the covariance matrix
# $C(Z) = \frac{1}{n-1} \sum_i (z_i - \bar z)(z_i - \bar z)^\top$,
#
# $$
# c(Z) = \frac{1}{d} \sum_{i \ne j} C(Z)_{ij}^2 .
# $$
#
# The loss weighs them with $\lambda = 25$, $\mu = 25$, $\nu = 1$ (the paper's values):
#
# $$
# \mathcal{L} = \lambda\, s(Z, Z') + \mu\, \big[v(Z) + v(Z')\big] + \nu\, \big[c(Z) + c(Z')\big].
# $$
#
# (The official code averages the two variance terms, $[v(Z) + v(Z')]/2$; sslkit follows
# the code and says so in the docstring.) Invariance alone is minimised by a constant. The
# variance term forbids that, but it can be satisfied by $d$ copies of one varying feature;
# the covariance term forbids the copies. Compared with Barlow Twins, the variance and
# covariance of $Z$ involve $Z$ alone, so each branch is regularised on its own, and the
# embeddings are never standardised: their scale is held by the hinge. Each term is a pure
# function in sslkit:

# %%
from sslkit.losses.vicreg import covariance_loss, variance_loss, vicreg_loss
course.show_source(variance_loss)

# %%
course.show_source(covariance_loss)

# %%
course.show_source(vicreg_loss)

# %% [markdown]
# The method runs the two views through the network and calls the loss. Note the `else`
# branch: with `backbone_b` set, view 2 goes through a second network of its own, which we
# use below.

# %%
course.show_source(VICReg.forward)

# %% [markdown]
# ## Experiment: drop one term, or stop sharing the network
#
# Four runs, each differing from the first in one switch. The collapses show within
# minutes, but two claims are about what the network learns, so each is a chapter's long
# run (3,000 steps of 128 images at the `cpu` profile, about eight epochs of CIFAR-10):
#
# - **VICReg**: the full loss;
# - **no variance term** ($\mu = 0$);
# - **no covariance term** ($\nu = 0$);
# - **separate branches**: view 2 goes through its own backbone — a small CNN with half
#   the channels of the `cpu` profile's backbone (at the `gpu` profile, view 1's backbone
#   is a ResNet-18, so the architectures differ even more), with its own initialisation —
#   and its own expander. Nothing is shared between the branches; kNN evaluates branch 1's
#   backbone.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data)
        for label, (key, _) in variants.items()}
for run in runs.values():
    print(run.caption())

# %% [markdown]
# For scale, the kNN accuracy of the same backbone at its random initialisation:

# %%
knn_random = course.random_init_knn(S.config("vicreg", "long"), train_data, test_data)
print(f"kNN of the randomly initialised backbone: {knn_random:.3f}")

# %% [markdown]
# Every run logs the three terms *unweighted*, including the ones it does not optimise:
# the "no variance" run still reports how far its dimensions' standard deviations are
# below 1. The variance hinge is $\frac{1}{d}\sum_j \max(0, 1 - \mathrm{std}_j)$: 0 when
# every dimension varies enough, 1 when every dimension is constant.

# %%
d = base.method_args["expander"][-1]
fig, axes = plt.subplots(2, 2, figsize=(11, 6))
course.plot_curves(runs, "variance", ax=axes[0, 0],
                   title="variance hinge (1 = every dimension constant)")
course.plot_curves(runs, "covariance", ax=axes[0, 1], logy=True,
                   title="covariance term c(Z) + c(Z')")
course.plot_curves(runs, "invariance", ax=axes[1, 0], logy=True, title="invariance (MSE)")
course.plot_curves(runs, "rank", ax=axes[1, 1], title=f"effective rank of z (d = {d})")
for ax in axes.flat[1:]:
    ax.get_legend().remove()
plt.tight_layout()

# %%
from IPython.display import Markdown
Markdown(course.results_table(runs, columns=("knn_top1", "std_l2", "rank")))

# %% [markdown]
# ## What the runs show
#
# The verdicts below are computed from these runs. Complete collapse is read off the
# variance hinge (the raw spread of $z$): the $\ell_2$-normalised std and the effective
# rank are both blind to the *scale* of $z$, and an embedding shrinking to a point can
# keep them moderate while every dimension's spread goes to zero.

# %%
last = {k: r.history[-1] for k, r in runs.items()}
knn = {k: r.metrics["knn_top1"] for k, r in runs.items()}
rank = {k: r.metrics["rank"] for k, r in runs.items()}
sep = "separate branches (small CNN for view 2)"


dim = d  # the embedding size, as above


def collapsed(k):
    """The course's complete collapse (`course.collapsed`); the unweighted variance hinge
    is 1 - (mean std of z) while every std is below 1."""
    return course.collapsed(last[k]["std_l2"], dim, mean_std=1 - last[k]["variance"])


course.verdict("without the variance term the embedding collapses (every std -> 0)",
               collapsed("no variance term"),
               f"variance hinge {last['no variance term']['variance']:.3f}, i.e. a mean std of "
               f"about {1 - last['no variance term']['variance']:.3f}, vs "
               f"{last['VICReg']['variance']:.3f} for VICReg")
course.verdict("without the covariance term the rank falls (dimensional collapse), "
               "but the spread survives",
               rank["no covariance term"] < 0.75 * rank["VICReg"]
               and not collapsed("no covariance term"),
               f"effective rank {rank['no covariance term']:.1f} vs {rank['VICReg']:.1f}; "
               f"variance hinge {last['no covariance term']['variance']:.3f}")
course.verdict("VICReg learns (kNN above a random backbone)",
               S.learns(knn["VICReg"], knn_random),
               f"kNN {knn['VICReg']:.3f} vs {knn_random:.3f} "
               f"({100 * (knn['VICReg'] - knn_random):+.1f} points)")
course.verdict("the branches need not share weights or architecture "
               "(separate branches learn, without collapse)",
               S.learns(knn[sep], knn_random) and not collapsed(sep),
               f"kNN {knn[sep]:.3f} vs {knn['VICReg']:.3f}; variance hinge "
               f"{last[sep]['variance']:.3f}")

# %% [markdown]
# Without $\mu$, the loss is invariance plus covariance, and both are lowest for an
# embedding that barely moves: the off-diagonal covariances shrink with the square of the
# scale. The network obliges and squeezes every image into a small ball. Without $\nu$,
# the hinge keeps every dimension's std near 1, but nothing stops the dimensions from
# repeating each other: the effective rank drops. The backbone below such an embedding can
# still be a useful feature extractor — kNN reads $y$, not $z$ — which is why collapse has
# to be diagnosed on $z$ itself.
#
# **Separate branches.** Because $v$ and $c$ act on each branch's own batch of embeddings,
# VICReg needs nothing in common between the branches except the embedding size. The
# paper uses this to embed two *different* signals: in its first version a raw audio
# waveform (a 1-D ResNet) against its spectrogram (a 2-D ResNet) on ESC-50, in the final
# version images against their captions on MS-COCO. Barlow Twins can run with separate
# branches too, but its cross-correlation compares standardised dimensions of the two
# branches one by one, while VICReg's regularisers never mix the branches. In our run the
# second branch is a narrower SmallCNN that is trained only through the loss and never
# evaluated: the kNN reads the first branch's backbone, whose partner is now a weaker
# network, so a few points below the shared network are to be expected at this budget.
#
# ## Experiment 2: variance and covariance in place of BatchNorm
#
# In BYOL and SimSiam the BatchNorm layers are part of what keeps the output from
# collapsing: BatchNorm standardises every dimension over the batch, so no dimension can be
# constant. Chapters 5 and 6 removed them: BYOL without any BatchNorm (backbone and heads)
# and SimSiam without BatchNorm in its heads both fell behind, SimSiam's below the
# untrained network. VICReg's variance hinge states "no dimension may be constant" as a
# loss, and its covariance term adds decorrelation. Bardes et al. (Sec. 4.5) add the two
# terms to BYOL and SimSiam and report that they then train without BatchNorm in their
# projector and predictor.
#
# We repeat this on our budget: the two BatchNorm-free runs of chapters 5 and 6 (their
# stored results, the same configurations), and the same runs with $\mu = 1$,
# $\nu = 0.04$ added on the online projections $z$ (`BYOLConfig` / `SimSiamConfig.std_coeff`,
# `cov_coeff`: exactly `vicreg_loss(z_a, z_b, sim_coeff=0, ...)` added to the method's own
# loss). The weights keep VICReg's 25 : 1 ratio, scaled down because BYOL's and SimSiam's
# own losses are of order 1, not 25; they were not tuned.

# %%
vc_runs = {}
for label, keys in vc_variants.items():
    for key, suffix in zip(keys, ("", " + V/C terms")):
        vc_runs[label + suffix] = experiments.run(key, RUNS[key], train_data=train_data,
                                                  test_data=test_data)
for run in vc_runs.values():
    print(run.caption())
display(Markdown(course.results_table(vc_runs, columns=("knn_top1", "std_l2", "rank"))))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
course.plot_curves(vc_runs, "std_l2", ax=axes[0], reference=1 / dim ** 0.5, logy=True,
                   title="std of the l2-normalised z (line: 1/sqrt(d))")
course.plot_curves(vc_runs, "rank", ax=axes[1], title="effective rank of z")
axes[1].get_legend().remove()
plt.tight_layout()

# %%
for label, (plain, with_vc) in vc_variants.items():
    a, b = vc_runs[label].metrics, vc_runs[label + " + V/C terms"].metrics
    course.verdict(f"{label}: VICReg's variance and covariance terms let it learn without "
                   f"that BatchNorm (above untrained, and above the run without them)",
                   S.learns(b["knn_top1"], knn_random) and S.better(b["knn_top1"], a["knn_top1"]),
                   f"kNN {b['knn_top1']:.3f} with the terms vs {a['knn_top1']:.3f} without "
                   f"(untrained {knn_random:.3f}); std of z {b['std_l2']:.4f} vs "
                   f"{a['std_l2']:.4f}, rank {b['rank']:.1f} vs {a['rank']:.1f}")

# %% [markdown]
# The variance hinge holds every dimension's spread near 1 by construction, so the runs
# with the terms cannot end in a constant output; the verdicts ask the harder question,
# whether the backbone under them learns better features than without the terms. The
# exercise {ref}`ex-vicreg-byol` rebuilds the combination as a subclass, to see every line
# of it.

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
display(Markdown(course.run_lengths({**runs, **vc_runs}, "10_vicreg")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - VICReg = invariance (MSE between views) + variance (hinge on each dimension's std) +
#   covariance (squared off-diagonal covariances), the last two on each branch separately.
# - In the paper, dropping the variance term collapses the embedding to a point, and
#   dropping the covariance term keeps its spread but along fewer dimensions; the verdicts
#   above say what our runs of each showed.
# - Nothing needs to be shared between the branches, not even the architecture.
# - Read complete collapse off the raw per-dimension std of $z$, dimensional collapse off
#   the effective rank.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-vicreg-variance
# Write `my_variance_loss(z)`: the mean over dimensions of $\max(0, 1 - \sqrt{\mathrm{Var}(z^j)
# + 10^{-4}})$ with the unbiased variance over the batch. Running the cell below checks it
# with `sslkit.checkers.check_variance_loss(my_variance_loss)`. Then replace the standard
# deviation by the variance inside the hinge: compute the gradient of both versions for a
# nearly constant `z = 1e-3 * torch.randn(64, 8)`. Which one pushes harder?
# ```

# %%
import torch.nn.functional as F
from sslkit import checkers


def my_variance_loss(z):
    """z: (N, D) -> mean over dimensions of relu(1 - sqrt(Var(z_j) + 1e-4))."""
    raise NotImplementedError("your code here")


checkers.check_variance_loss(my_variance_loss)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_variance_loss(z, eps=1e-4):
    std = torch.sqrt(z.var(dim=0) + eps)  # (D,), unbiased as torch.var's default
    return F.relu(1 - std).mean()


assert checkers.check_variance_loss(my_variance_loss)
z = (1e-3 * torch.randn(64, 8, generator=torch.Generator().manual_seed(0))).requires_grad_()
hinges = {"std in the hinge": my_variance_loss,
          "variance in the hinge": lambda z: F.relu(1 - (z.var(dim=0) + 1e-4)).mean()}
norms = {}
for label, loss_fn in hinges.items():
    (grad,) = torch.autograd.grad(loss_fn(z), z)
    norms[label] = grad.norm().item()
    print(f"{label}: gradient norm {norms[label]:.3g}")
print(f"ratio: {norms['std in the hinge'] / norms['variance in the hinge']:.0f}")
# By the chain rule the gradient of sqrt(Var + eps) is that of Var divided by
# 2 sqrt(Var + eps), about 2 sqrt(eps) = 0.02 for a nearly constant z: about fifty times
# stronger. The variance version barely pushes a collapsed embedding apart; the
# standard-deviation version does.

# %% [markdown]
# ```{exercise}
# :label: ex-vicreg-covariance
# Write `my_covariance_loss(z)`: centre `z` over the batch, form the $(D, D)$ covariance
# with $1/(N-1)$, and return the sum of its squared off-diagonal entries divided by $D$.
# Running the cell below checks it with
# `sslkit.checkers.check_covariance_loss(my_covariance_loss)`. What is its value for
# `z = torch.randn(N, 1).repeat(1, D)` (D copies of one feature)?
# ```

# %%
def my_covariance_loss(z):
    """z: (N, D) -> sum of the squared off-diagonal covariances, divided by D."""
    raise NotImplementedError("your code here")


checkers.check_covariance_loss(my_covariance_loss)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_covariance_loss(z):
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.T @ z / (n - 1)  # DxD
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / d


assert checkers.check_covariance_loss(my_covariance_loss)
feature = torch.randn(256, 1, generator=torch.Generator().manual_seed(0))
for d in (8, 32):
    copies = feature.repeat(1, d)
    print(f"D = {d}: covariance loss {float(my_covariance_loss(copies)):.3f}, "
          f"(D - 1) sigma^4 = {(d - 1) * float(feature.var()) ** 2:.3f}, "
          f"variance loss {float(my_variance_loss(copies)):.3f}")
# For D copies of one feature of variance sigma^2 every off-diagonal entry is sigma^2, so
# the loss is (D - 1) sigma^4, about D - 1: large, although the variance term is happy.

# %% [markdown]
# ```{exercise}
# :label: ex-vicreg-byol
# Add VICReg's variance and covariance terms to BYOL and train it without BatchNorm in its
# heads. Subclass `sslkit.methods.byol.BYOL`, recompute the online projections in
# `forward`, add `std_coeff * (v(z_a) + v(z_b)) / 2 + cov_coeff * (c(z_a) + c(z_b))` to the
# loss, register it under a new name in `sslkit.methods.METHODS`, and compare
# `projector_norm="none", predictor_norm="none"` with and without the extra terms.
# ```

# %%
# your code here: the subclass, its registration, and the two runs

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from dataclasses import dataclass
# import torch
# from sslkit.losses import byol_loss, covariance_loss, variance_loss
# from sslkit.methods import METHODS, MethodSpec, StepOutput
# from sslkit.methods.byol import BYOL, BYOLConfig, SPEC as BYOL_SPEC
#
# @dataclass
# class BYOLVCConfig(BYOLConfig):
#     std_coeff: float = 1.0   # a starting point; the relative weights need tuning
#     cov_coeff: float = 0.04  # VICReg's nu / mu = 1 / 25
#
# class BYOLVC(BYOL):
#     def forward(self, views, step):
#         x_a, x_b = views[:2]
#         z_a = self.projector(self.backbone(x_a))
#         z_b = self.projector(self.backbone(x_b))
#         p_a, p_b = self.predictor(z_a), self.predictor(z_b)
#         with torch.no_grad():
#             zt_a = self.target_projector(self.target_backbone(x_a))
#             zt_b = self.target_projector(self.target_backbone(x_b))
#         loss = byol_loss(p_a, zt_b) + byol_loss(p_b, zt_a)
#         var = (variance_loss(z_a) + variance_loss(z_b)) / 2
#         cov = covariance_loss(z_a) + covariance_loss(z_b)
#         loss = loss + self.cfg.std_coeff * var + self.cfg.cov_coeff * cov
#         return StepOutput(loss, {"variance": var.detach(), "covariance": cov.detach()},
#                           z_a.detach())
#
# METHODS["byol_vc"] = MethodSpec(BYOLVCConfig, BYOLVC, BYOL_SPEC.train_defaults, "BYOL + VC")
# no_bn = {"projector_norm": "none", "predictor_norm": "none"}
# plain = experiments.run("10-ex-byol-nobn", S.config("byol", method_args=no_bn),
#                         train_data=train_data, test_data=test_data)
# vc = experiments.run("10-ex-byolvc-nobn", S.config("byol_vc", method_args=no_bn),
#                      train_data=train_data, test_data=test_data)
# ```
#
# Experiment 2 made a similar comparison with sslkit's built-in switch
# (`BYOLConfig.std_coeff`, `cov_coeff`, which add exactly these terms), but with
# BatchNorm removed from the backbone too (`norm="none"`); add that, and the "long" size,
# to both of your configs to set your numbers beside its own. Without it your runs keep the
# backbone's BatchNorm, the setting of Bardes et al.; chapter 5's verdicts say whether BYOL needs
# BatchNorm in its heads at all on our budget. How to read the pair: if plain BYOL's
# std falls far below $1/\sqrt{d}$ while the other's stays near it, the terms did what
# BatchNorm did; whether the kNN accuracy follows depends on the weights, so try a few.
#
# </details>
#
# ```{exercise}
# :label: ex-vicreg-cov-sweep
# Sweep the covariance weight $\nu \in \{0, 0.04, 0.2, 1, 5\}$ and plot the final effective
# rank of $z$ and the kNN accuracy against $\nu$. Is there a value past which more
# decorrelation stops helping?
# ```

# %%
# your code here: one experiments.run per value of cov_coeff, then the two plots

# %% [markdown]
# <details><summary>Solution</summary>
#
# Two points of the sweep are stored: the VICReg run ($\nu = 1$) and the run without the
# covariance term ($\nu = 0$) of the experiment above; the other three are runs this
# chapter did not store. What to look for: the effective rank should rise with $\nu$ until
# the dimensions are decorrelated as far as the batch allows (the covariance of $n$
# samples has rank at most $n - 1$), and then level off. The kNN accuracy answers the
# question: where it stops rising while the rank still rises, more decorrelation stops
# helping; where it falls, the invariance term has lost too much weight. Read each
# difference against the noise of the kNN (`S.knn_gap`).
#
# </details>

# %% [markdown]
# ## References
#
# - A. Bardes, J. Ponce, Y. LeCun. *VICReg: Variance-Invariance-Covariance Regularization
#   for Self-Supervised Learning.* ICLR 2022. arXiv:2105.04906. Official code:
#   `facebookresearch/vicreg`.
# - J. Zbontar et al. *Barlow Twins.* ICML 2021. arXiv:2103.03230.
# - L. Jing, P. Vincent, Y. LeCun, Y. Tian. *Understanding Dimensional Collapse in
#   Contrastive Self-supervised Learning.* ICLR 2022. arXiv:2110.09348.
