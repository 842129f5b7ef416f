# %% [markdown]
# # SimSiam: the stop-gradient
#
# **Goals.** After this chapter you can
# - write SimSiam's loss and say where its stop-gradient sits;
# - show, with your own run, that *without* the stop-gradient the network collapses to a
#   constant, and *with* it does not;
# - show what happens when the predictor is removed or frozen at its random initialisation;
# - explain the EM-like reading of the asymmetric update.
#
# SimSiam (Chen & He, 2020) strips BYOL (previous chapter) down to its core: one encoder
# shared by both views, no moving-average target, no negatives, no large batches. What is
# left is a predictor on one side and a stop-gradient on the other, and the paper's point
# is that this is enough.

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
from sslkit.methods.simsiam import SimSiam

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# We train on CIFAR-10 (the embedded shapes at the smoke profile). SimSiam uses the
# SimCLR recipe for both views (random resized crop, flip, colour jitter, grayscale).

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("simclr", train_data.image_size, mean, std)
x = train_data.images[:8]
view_1, view_2 = recipe(x, torch.Generator().manual_seed(0))
course.show_views(x, {"view 1": view_1,
                   "view 2": view_2}, mean=mean, std=std)

# %% [markdown]
# ## The idea
#
# An encoder $f$ (backbone and projector) embeds both views: $z_1 = f(x_1)$, $z_2 = f(x_2)$.
# A predictor $h$, a small MLP, maps one view's embedding to a guess of the other's:
# $p_1 = h(z_1)$. With $D(p, z) = -\frac{p}{\lVert p \rVert}\cdot\frac{z}{\lVert z \rVert}$,
# the loss is symmetric in the views,
#
# $$
# \mathcal{L} = \tfrac12 D\big(p_1, \operatorname{sg}(z_2)\big) + \tfrac12 D\big(p_2, \operatorname{sg}(z_1)\big),
# $$
#
# where $\operatorname{sg}$ (stop-gradient) treats its argument as a constant: the gradient
# reaches the encoder only through $p$. In code, the stop-gradient is one `.detach()`:

# %%
from sslkit.losses import simsiam_loss
course.show_source(simsiam_loss)

# %% [markdown]
# and the method's training step calls it once per direction:

# %%
course.show_source(SimSiam.forward)

# %% [markdown]
# ## Experiment: with and without the stop-gradient, with and without a predictor
#
# Four runs that differ in one switch each, all at the same profile and seed. We follow the
# collapse diagnostic of the paper (Sec. 4.1, Fig. 2): the standard deviation of the
# $\ell_2$-normalised output $z/\lVert z\rVert$, averaged over dimensions. If the outputs
# were spread like an isotropic Gaussian it would be about $1/\sqrt{d}$; a constant output
# gives 0.

# %%
variants = {
    "SimSiam": {},
    "no stop-gradient": {"stop_gradient": False},
    "no predictor": {"predictor": "none"},
    "predictor fixed at random init": {"predictor": "fixed_random"},
}
runs = {
    label: experiments.run(f"06-simsiam-{i}",
                           S.config("simsiam", method_args=args),
                           train_data=train_data, test_data=test_data)
    for i, (label, args) in enumerate(variants.items())
}
for run in runs.values():
    print(run.caption())

# %%
from sslkit.methods.simsiam import SimSiamConfig
dim = runs["SimSiam"].config["method_args"].get("dim", SimSiamConfig.dim)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
course.plot_curves(runs, "std_l2", ax=axes[0], reference=dim ** -0.5,
                   reference_label=r"$1/\sqrt{d}$", title="std of l2-normalised z")
course.plot_curves(runs, "loss", ax=axes[1], title="training loss (min -1)")
course.plot_curves(runs, "rank", ax=axes[2], title="effective rank of z")
plt.tight_layout()

# %%
from IPython.display import Markdown
Markdown(course.results_table(runs))

# %% [markdown]
# ## What the runs show
#
# The paper's claims, each checked against the numbers above (the verdicts are computed
# from this run, not written by hand):

# %%
ref = dim ** -0.5
std = {k: r.metrics["std_l2"] for k, r in runs.items()}
knn = {k: r.metrics["knn_top1"] for k, r in runs.items()}
rank = {k: r.metrics["rank"] for k, r in runs.items()}
course.verdict("without stop-gradient the output collapses (std -> 0)",
               std["no stop-gradient"] < 0.2 * ref,
               f"std {std['no stop-gradient']:.4f} vs 1/sqrt(d) = {ref:.4f}")
course.verdict("without stop-gradient the embedding loses its dimensions (rank falls)",
               rank["no stop-gradient"] < 0.25 * rank["SimSiam"],
               f"effective rank {rank['no stop-gradient']:.1f} vs {rank['SimSiam']:.1f}")
course.verdict("with stop-gradient the std stays near 1/sqrt(d)",
               std["SimSiam"] > 0.5 * ref,
               f"std {std['SimSiam']:.4f} vs {ref:.4f}")
course.verdict("the collapsed network is a worse feature extractor (kNN)",
               knn["no stop-gradient"] < knn["SimSiam"],
               f"kNN {knn['no stop-gradient']:.3f} vs {knn['SimSiam']:.3f}")
# "Fails" below means: the embedding collapses (effective rank under a quarter of SimSiam's)
# or the backbone learns nothing (kNN no better than the same network untrained).
knn_random = course.random_init_knn(S.config("simsiam"), train_data, test_data)


def fails(label):
    return rank[label] < 0.25 * rank["SimSiam"] or knn[label] <= knn_random


course.verdict("SimSiam itself learns: kNN above the untrained network's",
               knn["SimSiam"] > knn_random + S.knn_gap,
               f"kNN {knn['SimSiam']:.3f} vs untrained {knn_random:.3f}")
for label, paper in (("no predictor", "collapse"), ("predictor fixed at random init",
                                                    "does not converge")):
    course.verdict(f"{label}: the method fails (paper Table 1: {paper})", fails(label),
                   f"effective rank {rank[label]:.1f} vs {rank['SimSiam']:.1f}; kNN "
                   f"{knn[label]:.3f} vs {knn['SimSiam']:.3f}, untrained {knn_random:.3f}")

# %% [markdown]
# A note on measuring this collapse. SimSiam's projector ends in a BatchNorm without affine
# parameters, so in training mode every dimension of $z$ has unit variance *over the batch*
# by construction: the batch cannot become one point. What collapses instead is the
# direction: nearly all embeddings line up along a few directions, which the effective rank
# shows even where the std of the $\ell_2$-normalised output stays away from 0.
#
# Without the stop-gradient the loss reaches its minimum of $-1$ almost at once: both
# branches are free to move towards each other, and the cheapest way is to map every image
# to the same point. With the stop-gradient the loss decreases slowly and the output stays
# spread. In the paper, SimSiam without the predictor collapses as well; a predictor frozen
# at random does not converge. On our small runs these two variants may land somewhere in
# between — the verdicts above say which.
#
# The same goes for SimSiam itself: each run here is 300 steps, less than one epoch of
# CIFAR-10, and at that point SimSiam has only begun to learn. Its kNN accuracy may still sit
# within the evaluation's noise (`S.knn_gap`) of the untrained network's, while the collapse
# diagnostics already separate the variants by an order of magnitude: the stop-gradient's
# effect shows long before the features are good.
#
# ## Why does it work? The EM reading
#
# Chen & He propose that SimSiam solves, by alternation, a problem with *two* sets of
# variables: the network weights $\theta$ and a representation $\eta_x$ for every image,
#
# $$
# \min_{\theta, \eta} \; \mathbb{E}_{x, \mathcal{T}} \big\lVert f_\theta(\mathcal{T}(x)) - \eta_x \big\rVert^2 .
# $$
#
# Fixing $\eta$ and optimising $\theta$ is an ordinary regression towards constant targets —
# that is the stop-gradient. Fixing $\theta$, the best $\eta_x$ is the average of
# $f_\theta(\mathcal{T}(x))$ over augmentations; SimSiam approximates it with the embedding
# of *one* other view, and the predictor $h$ learns to fill the gap between one sample and
# that expectation. Like k-means, each alternating step can only lower the objective, and
# neither step on its own has an incentive to move everything to one point.

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - SimSiam = shared encoder + predictor on one side + stop-gradient on the other.
# - The stop-gradient is what prevents collapse here: drop it and the output becomes
#   constant within a few hundred steps.
# - Watch collapse with the std of the $\ell_2$-normalised output against $1/\sqrt{d}$, and
#   with the effective rank.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-simsiam-loss
# Write `my_simsiam_loss(p, z)`: one direction of the loss, the mean over the batch of the
# negative cosine similarity, with the stop-gradient on `z`. Check it with
# `sslkit.checkers.check_simsiam_loss(my_simsiam_loss)`. What does the checker say if you
# forget the stop-gradient?
# ```
#
# ````{solution} ex-simsiam-loss
# :class: dropdown
# ```python
# import torch.nn.functional as F
# def my_simsiam_loss(p, z):
#     z = z.detach()  # stop-gradient
#     return -F.cosine_similarity(p, z, dim=1).mean()
# ```
# Without `detach`, the values match but the checker reports a gradient reaching the second
# input where it should be blocked.
# ````
#
# ```{exercise}
# :label: ex-simsiam-collapse-speed
# Rerun the "no stop-gradient" variant with `TrainConfig(..., log_every=1, steps=50)` and
# plot `std_l2`. After how many steps is the std below $0.1/\sqrt{d}$? Does a smaller
# learning rate delay the collapse, or prevent it?
# ```
#
# ```{solution} ex-simsiam-collapse-speed
# :class: dropdown
# The collapse takes a few dozen steps at the default learning rate, and a smaller learning
# rate only delays it: the constant solution is a minimum of the loss, and nothing in the
# symmetric, gradient-through-both-branches objective pushes away from it.
# ```
#
# ## References
#
# - X. Chen, K. He. *Exploring Simple Siamese Representation Learning.* CVPR 2021.
#   arXiv:2011.10566. Official code: `facebookresearch/simsiam`.
# - J.-B. Grill et al. *Bootstrap Your Own Latent.* NeurIPS 2020. arXiv:2006.07733.
