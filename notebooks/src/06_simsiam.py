# %% [markdown]
# # SimSiam: the stop-gradient
#
# **Goals.** After this chapter you can
# - write SimSiam's loss and say where its stop-gradient sits;
# - show, with your own run, what the stop-gradient prevents: *without* it the embeddings
#   line up along one direction (the paper: the output collapses to a constant), *with* it
#   they keep their spread;
# - show what happens when the predictor is removed or frozen at its random initialisation;
# - test how much SimSiam depends on the batch size (paper Table 3);
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
from sslkit.methods import get_method
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
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: SimSiam and three variants that
# remove one of its pieces, SimSiam at half and twice the batch, and three placements of
# BatchNorm in its heads (experiments below). The book's results are stored and reused; the
# plan says which will train here instead, and for how long on this device.

# %%
resolved = S.config("simsiam", "long").resolved(get_method("simsiam").train_defaults)
variants = {  # label: (result key, method_args)
    "SimSiam": ("06-simsiam-0", {}),
    "no stop-gradient": ("06-simsiam-1", {"stop_gradient": False}),
    "no predictor": ("06-simsiam-2", {"predictor": "none"}),
    "predictor fixed at random init": ("06-simsiam-3", {"predictor": "fixed_random"}),
}
RUNS = {key: S.config("simsiam", "long", method_args=args) for key, args in variants.values()}
batch_variants = {}  # label: result key; each sees as many images as SimSiam's run
for factor in ((0.5,) if S.profile == "smoke" else (0.5, 2)):
    batch = int(resolved.batch_size * factor)
    batch_variants[f"batch {batch}"] = key = f"06-simsiam-batch-{batch}"
    RUNS[key] = S.config(
        "simsiam", "long", batch_size=batch, steps=int(resolved.steps / factor),
        log_every=int(resolved.log_every / factor),
        eval_every=int(resolved.eval_every / factor) if resolved.eval_every else 0)
bn_variants = {  # label: (result key, SimSiamConfig.batchnorm); "default" is SimSiam above
    "no BN in the heads": ("06-simsiam-bn-none", "none"),
    "BN on hidden layers only": ("06-simsiam-bn-hidden", "hidden"),
    "BN also on the predictor's output": ("06-simsiam-bn-all", "all"),
}
for key, batchnorm in bn_variants.values():
    RUNS[key] = S.config("simsiam", "long", method_args={"batchnorm": batchnorm})
experiments.plan(RUNS, train_data=train_data, test_data=test_data)

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
# Four runs that differ in one switch each, all at the same profile and seed. The collapse
# shows within minutes, but the claims also compare what the networks *learn*, so each run
# is a chapter's long run (3,000 steps of 128 images at the `cpu` profile, kNN every 1,000
# steps): a 300-step SimSiam run is still within the noise of an untrained network (kNN
# 0.373 against 0.345 in an earlier version of this chapter). We follow the
# collapse diagnostic of the paper (Sec. 4.1, Fig. 2): the standard deviation of the
# $\ell_2$-normalised output $z/\lVert z\rVert$, averaged over dimensions. If the outputs
# were spread like an isotropic Gaussian it would be about $1/\sqrt{d}$; a constant output
# gives 0.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data)
        for label, (key, _) in variants.items()}
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

# %% [markdown]
# The course's definitions (`sslkit.course`): a run **collapsed** when the std of its
# $\ell_2$-normalised output fell below a fifth of $1/\sqrt{d}$; it **learns** when its kNN
# beats the untrained backbone's by more than the evaluation's noise (`S.knn_gap`, 1.4
# points on the whole test set); one run is **better** than another by the same margin. A
# variant **fails** when it collapsed, or learned nothing, or SimSiam is better than it.

# %%
ref = dim ** -0.5
std = {k: r.metrics["std_l2"] for k, r in runs.items()}
knn = {k: r.metrics["knn_top1"] for k, r in runs.items()}
rank = {k: r.metrics["rank"] for k, r in runs.items()}
knn_random = course.random_init_knn(S.config("simsiam", "long"), train_data, test_data)


def fails(label):
    return (course.collapsed(std[label], dim) or not S.learns(knn[label], knn_random)
            or S.better(knn["SimSiam"], knn[label]))


course.verdict("without stop-gradient the output collapses (std -> 0)",
               course.collapsed(std["no stop-gradient"], dim),
               f"std {std['no stop-gradient']:.4f} vs 1/sqrt(d) = {ref:.4f}")
course.verdict("without stop-gradient the embedding loses its dimensions (rank falls)",
               rank["no stop-gradient"] < 0.25 * rank["SimSiam"],
               f"effective rank {rank['no stop-gradient']:.1f} vs {rank['SimSiam']:.1f}")
course.verdict("with stop-gradient the std stays near 1/sqrt(d)",
               std["SimSiam"] > 0.5 * ref,
               f"std {std['SimSiam']:.4f} vs {ref:.4f}")
course.verdict("the collapsed network is a worse feature extractor (kNN)",
               S.better(knn["SimSiam"], knn["no stop-gradient"]),
               f"kNN {knn['no stop-gradient']:.3f} vs {knn['SimSiam']:.3f}")
course.verdict("SimSiam itself learns: kNN above the untrained network's",
               S.learns(knn["SimSiam"], knn_random),
               f"kNN {knn['SimSiam']:.3f} vs untrained {knn_random:.3f} "
               f"({100 * (knn['SimSiam'] - knn_random):+.1f} points)")
for label, paper in (("no predictor", "collapse"), ("predictor fixed at random init",
                                                    "does not converge")):
    course.verdict(f"{label}: the method fails (paper Table 1: {paper})", fails(label),
                   f"std {std[label]:.4f}, effective rank {rank[label]:.1f} vs "
                   f"{rank['SimSiam']:.1f}; kNN {knn[label]:.3f} vs {knn['SimSiam']:.3f}, "
                   f"untrained {knn_random:.3f}")

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
# The collapse diagnostics separate the variants within the first few hundred steps (the
# curves above), long before the features are good: the stop-gradient's effect shows first,
# the kNN accuracy follows.
#
# ## Experiment: batch size (paper Table 3)
#
# SimSiam's loss is per image, like BYOL's; only the BatchNorm layers of its heads see the
# batch. The paper trains with batches from 64 to 4096 (100 epochs, SGD, learning rate
# scaled with the batch) and finds 64 to 2048 all within 2.5 points of each other (66.1 to
# 68.1% linear probe), unlike SimCLR or SwAV, which need large batches. Here: half and twice
# our batch of 128, each for the *same number of images* as the SimSiam run above (twice
# and half the steps), the learning rate scaled with the batch as everywhere in sslkit.
# (CI runs the halved batch only.)

# %%
batches = {f"batch {resolved.batch_size} (above)": runs["SimSiam"]}
for label, key in batch_variants.items():
    batches[label] = experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data)
    print(batches[label].caption())
fig, ax = plt.subplots(figsize=(6, 3.2))
for label, run in batches.items():
    steps_, values = run.series("std_l2")
    ax.plot([s * run.config["batch_size"] for s in steps_], values, label=label)
ax.axhline(ref, color="gray", ls="--", lw=1, label=r"$1/\sqrt{d}$")
ax.set_xlabel("images seen")
ax.set_ylabel("std_l2")
ax.legend(fontsize=8, frameon=False)
plt.tight_layout()
Markdown(course.results_table(batches))

# %%
for label, run in batches.items():
    if run is not runs["SimSiam"]:
        course.verdict(f"SimSiam works at {label} (paper Table 3: 64 to 2048 within 2.5 points)",
                       S.learns(run.metrics["knn_top1"], knn_random)
                       and not course.collapsed(run.metrics["std_l2"], dim),
                       f"kNN {run.metrics['knn_top1']:.3f} vs {knn['SimSiam']:.3f} at batch "
                       f"{resolved.batch_size} (the same images); std {run.metrics['std_l2']:.4f}")

# %% [markdown]
# ## Experiment: where the BatchNorm goes (paper Table 2)
#
# SimSiam's heads have BatchNorm after every hidden layer and after the projector's output
# (without its affine parameters), none after the predictor's output. The paper moves it
# around (100 epochs, ImageNet linear probe): with no BN in the heads SimSiam reaches
# 34.6%, with BN on the hidden layers only 67.4%, with the default placement 68.1%, and with
# BN on the predictor's output too, training is unstable (35.2%). The paper's reading: BN
# helps optimisation, as in supervised networks, but there is no evidence that it is what
# prevents collapse (the "none" case is poor but does not collapse). Three long runs beside
# SimSiam's, switched by one field of the config:

# %%
course.show_source(SimSiam.__init__)

# %%
bn_runs = {"default (above)": runs["SimSiam"]}
for label, (key, _) in bn_variants.items():
    bn_runs[label] = experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data)
    print(bn_runs[label].caption())
Markdown(course.results_table(bn_runs))

# %%
bn_knn = {label: run.metrics["knn_top1"] for label, run in bn_runs.items()}
bn_std = {label: run.metrics["std_l2"] for label, run in bn_runs.items()}
default_knn, pred_out_knn = bn_knn["default (above)"], bn_knn["BN also on the predictor's output"]
course.verdict("without BN in the heads SimSiam learns less than with it (paper: 34.6 vs 68.1%)",
               S.better(default_knn, bn_knn["no BN in the heads"]),
               f"kNN {bn_knn['no BN in the heads']:.3f} vs {default_knn:.3f}")
course.verdict("... yet it does not collapse: BN is not what prevents collapse",
               not course.collapsed(bn_std["no BN in the heads"], dim),
               f"std {bn_std['no BN in the heads']:.4f} (1/sqrt(d) = {ref:.4f})")
course.verdict("BN on the hidden layers alone is close to the default (paper: 67.4 vs 68.1%)",
               not S.better(default_knn, bn_knn["BN on hidden layers only"]),
               f"kNN {bn_knn['BN on hidden layers only']:.3f} vs {default_knn:.3f}")
course.verdict("BN on the predictor's output hurts (paper: unstable, 35.2%)",
               S.better(default_knn, pred_out_knn),
               f"kNN {pred_out_knn:.3f} vs {default_knn:.3f}")

# %% [markdown]
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
all_runs = {**runs, **batches, **bn_runs}
display(Markdown(course.run_lengths(all_runs, "06_simsiam")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - SimSiam = shared encoder + predictor on one side + stop-gradient on the other.
# - The paper: the stop-gradient is what prevents collapse; without it the output becomes
#   constant within a few hundred steps. The table above says what our runs showed.
# - Watch collapse with the std of the $\ell_2$-normalised output against $1/\sqrt{d}$, and
#   with the effective rank.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-simsiam-loss
# Write `my_simsiam_loss(p, z)`: one direction of the loss, the mean over the batch of the
# negative cosine similarity, with the stop-gradient on `z`. Running the cell below checks
# it with `sslkit.checkers.check_simsiam_loss(my_simsiam_loss)`. What does the checker say
# if you forget the stop-gradient?
# ```

# %%
import torch.nn.functional as F
from sslkit import checkers


def my_simsiam_loss(p, z):
    """-mean_n cos(p_n, sg(z_n)); p, z: (N, D)."""
    raise NotImplementedError("your code here")


checkers.check_simsiam_loss(my_simsiam_loss)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_simsiam_loss(p, z):
    z = z.detach()  # stop-gradient
    return -F.cosine_similarity(p, z, dim=1).mean()


assert checkers.check_simsiam_loss(my_simsiam_loss)

# Without `detach`, the values match but the checker reports a gradient reaching the second
# input where it should be blocked:
print("\nwithout the stop-gradient:")
assert not checkers.check_simsiam_loss(lambda p, z: -F.cosine_similarity(p, z, dim=1).mean())

# %% [markdown]
# ```{exercise}
# :label: ex-simsiam-collapse-speed
# Rerun the "no stop-gradient" variant with `log_every=1, steps=50` and plot `std_l2`.
# After how many steps is the std below $0.1/\sqrt{d}$? Does a smaller learning rate delay
# the collapse, or prevent it?
# ```

# %%
# your code here: S.config("simsiam", method_args={"stop_gradient": False}, ...) and
# experiments.run, then course.plot_curves

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
# The stored "no stop-gradient" run of the experiment above logs std_l2 every `log_every`
# steps: the first logged step below 0.1/sqrt(d) bounds the answer from above.
no_sg = runs["no stop-gradient"]
logged, stds = no_sg.series("std_l2")
below = next((s for s, v in zip(logged, stds) if v < 0.1 * dim ** -0.5), None)
print(f"no stop-gradient, logged every {logged[1] - logged[0] if len(logged) > 1 else '-'} "
      f"steps: first logged step with std_l2 < 0.1/sqrt(d) = {0.1 * dim ** -0.5:.4f}: "
      f"{below if below is not None else 'none (it stayed above)'}")
# To see the first 50 steps one by one, and the learning rate's part, train (not stored):
#   lr = S.config("simsiam").resolved(get_method("simsiam").train_defaults).lr
#   fast = {f"lr x {f}": experiments.run(
#               f"06-ex-no-sg-lr-{f}",
#               S.config("simsiam", method_args={"stop_gradient": False}, steps=50,
#                        log_every=1, lr=f * lr), train_data=train_data)
#           for f in (1, 0.1)}
#   course.plot_curves(fast, "std_l2", reference=0.1 * dim ** -0.5, reference_label="0.1/sqrt(d)")
# How to read it: if the smaller learning rate only shifts the curve to the right, it
# delays the collapse; if its curve levels off above the line, it prevents it within these
# steps. The constant solution is a minimum of the symmetric loss without the
# stop-gradient, so a smaller step size changes how fast the network gets there, not
# whether that minimum exists; a run of 50 steps can tell "later" from "not yet", not from
# "never".

# %% [markdown]
# ## References
#
# - X. Chen, K. He. *Exploring Simple Siamese Representation Learning.* CVPR 2021.
#   arXiv:2011.10566. Official code: `facebookresearch/simsiam`.
# - J.-B. Grill et al. *Bootstrap Your Own Latent.* NeurIPS 2020. arXiv:2006.07733.
