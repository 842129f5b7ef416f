# %% [markdown]
# # Joint-embedding architectures and collapse
#
# **Goals.** After this chapter you can
# - describe a siamese (joint-embedding) architecture and its objective;
# - show, with your own run, that pulling the two views together *and nothing else*
#   collapses the network to a constant;
# - tell complete collapse from dimensional collapse, and measure both: the std of the
#   $\ell_2$-normalised embedding against $1/\sqrt{d}$, the effective rank, the
#   singular-value spectrum, alignment and uniformity;
# - compute these diagnostics yourself.
#
# Siamese networks are older than self-supervised learning: Bromley et al. (1993) verified
# signatures by passing two of them through one network with shared weights and comparing
# the outputs. Every method in the rest of this course has this shape. What distinguishes
# them is the trick each uses to stop the network from cheating, and this chapter shows the
# cheat and how to detect it.

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
import torch.nn.functional as F
from IPython.display import Markdown

from sslkit import augment, course, data, evaluate, experiments
from sslkit.losses.vicreg import invariance_loss
from sslkit.methods.vicreg import VICReg, VICRegConfig
from sslkit.train.loop import random_subset

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# CIFAR-10 (the embedded shapes at the smoke profile) and VICReg's two asymmetric views:
# random resized crop, flip, colour jitter and grey scale on both, solarisation on the
# second view only (at 32 px there is no blur).

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("vicreg", train_data.image_size, mean, std)
x = train_data.images[:8]
x_a, x_b = recipe(x, torch.Generator().manual_seed(0))
course.show_views(x, {"view a": x_a,
                   "view b": x_b}, mean=mean, std=std)

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: VICReg three times on CIFAR-10,
# with terms of its loss switched off (the experiment below says why), then twice at the
# course's small "lab" size on the embedded shapes (the section on what a collapsed
# representation keeps). The book's results are stored and reused; the chapter looks into
# every trained network, so a stored run whose weights are not on this machine (a fresh
# clone) trains again. The plan says which will train, and for how long on this device.

# %%
variants = {  # label: (result key, VICReg's loss coefficients that differ from its own)
    "invariance only": ("03-collapse-0", {"std_coeff": 0.0, "cov_coeff": 0.0}),
    "no covariance": ("03-collapse-1", {"cov_coeff": 0.0}),
    "VICReg": ("03-collapse-2", {}),
}
RUNS = {key: S.config("vicreg", method_args=args) for key, args in variants.values()}
shapes_train, shapes_test = data.load("shapes"), data.load("shapes", split="test")
lab_variants = {"invariance only": ("03-lab-0", {"std_coeff": 0.0, "cov_coeff": 0.0}),
                "VICReg": ("03-lab-1", {})}
LAB_RUNS = {key: S.config("vicreg", "lab", method_args=args)
            for key, args in lab_variants.values()}
(experiments.plan(RUNS, train_data=train_data, test_data=test_data, need_model=True)
 + experiments.plan(LAB_RUNS, train_data=shapes_train, test_data=shapes_test, need_model=True))

# %% [markdown]
# ## The idea, and the cheat
#
# A joint-embedding architecture sends both views through an encoder: a backbone $f$ gives
# the representation $y = f(x)$, a projector (VICReg calls it an expander) $g$ gives the
# embedding $z = g(y) \in \mathbb{R}^d$. In the *siamese* case both branches share $f$ and
# $g$. Training minimises a distance between the embeddings of the two views, for instance
# the mean squared error
#
# $$
# \mathcal{L}_{\text{inv}} = \frac{1}{N d} \sum_{n=1}^{N} \big\lVert z_a^{(n)} - z_b^{(n)} \big\rVert^2 ,
# \qquad z_a = g(f(x_a)),\; z_b = g(f(x_b)).
# $$
#
# This is VICReg's invariance term:

# %%
course.show_source(invariance_loss)

# %% [markdown]
# The loss has a perfect minimum that needs no learning at all: if $g \circ f$ maps every
# image to the same vector $c$, then $z_a = z_b = c$ for every pair and
# $\mathcal{L}_{\text{inv}} = 0$. This is **complete collapse**. Nothing in the loss says
# that *different* images must get *different* embeddings, and gradient descent, looking for
# the cheapest way down, finds the constant. A weaker form is **dimensional collapse**: the
# embeddings do differ, but only along a few directions of $\mathbb{R}^d$, so most of the
# space is wasted (Jing et al., 2022).
#
# Each method of the following chapters adds one ingredient against collapse. Hadsell,
# Chopra and LeCun (2006) pushed the embeddings of *different* images apart (negative
# pairs, as AMDIM does in chapter 4); BYOL and SimSiam break the symmetry of the two
# branches (chapters 5, 6); VICReg keeps the variance of every dimension up and decorrelates
# the dimensions (chapter 10). VICReg's training step computes all three terms, and its
# coefficients switch them on and off. With `std_coeff=0` and `cov_coeff=0` only the
# invariance term above is left, a plain siamese network:

# %%
course.show_source(VICReg.forward)

# %% [markdown]
# ## How to see collapse
#
# A collapsed network still produces numbers, and its loss looks excellent. We need
# diagnostics of the embedding matrix $Z \in \mathbb{R}^{N \times d}$ of a batch
# ({doc}`../book/evaluation` lists them).
#
# **Std of the $\ell_2$-normalised embedding** (SimSiam, Sec. 4.1). Normalise each row,
# $\hat z = z / \lVert z \rVert$, take the standard deviation of each dimension over the
# batch and average over dimensions. A constant embedding gives 0. If $z$ is spread like an
# isotropic Gaussian, $\hat z$ is uniform on the unit sphere, each coordinate has mean 0 and
# mean square $1/d$, so the std is about $1/\sqrt{d}$: that is the reference line.
#
# **Effective rank** (RankMe, Garrido et al., 2023). With $\sigma_1 \ge \dots \ge \sigma_K$
# the singular values of $Z$ and $p_k = \sigma_k / \sum_j \sigma_j$,
#
# $$
# \operatorname{erank}(Z) = \exp\Big(-\sum_k p_k \log p_k\Big),
# $$
#
# the exponential of the entropy of the normalised spectrum: 1 when one direction carries
# everything (a constant embedding is a rank-1 matrix), $r$ when $r$ directions share it
# equally, at most $\min(N, d)$. The **spectrum** itself, sorted singular values of the
# centred embedding on a log scale, shows *where* the spread goes: a slow decay is healthy;
# a cliff after a few values is dimensional collapse.
#
# **Alignment and uniformity** (Wang & Isola, 2020) look at the normalised embeddings on the
# sphere: alignment is the mean squared distance between the two views of one image (small
# is good, but 0 is also what collapse gives), uniformity is the log of the mean Gaussian
# potential between different images (very negative when the points spread over the
# sphere, 0 when they all sit at one point). A good embedding has both: views close, images
# spread.

# %%
course.show_source(evaluate.alignment)

# %%
course.show_source(evaluate.uniformity)

# %% [markdown]
# (The code of the first two diagnostics is the subject of the exercises; try them before
# reading `sslkit/evaluate/collapse.py`.)
#
# Before training anything, the diagnostics on three synthetic embeddings of $N = 1024$
# points in $d = 64$ dimensions: an isotropic Gaussian (healthy), a Gaussian that lives in
# a 4-dimensional subspace (dimensional collapse), and one point plus a little noise
# (complete collapse).

# %%
g = torch.Generator().manual_seed(0)
n, d = 1024, 64
synthetic = {
    "healthy": torch.randn(n, d, generator=g),
    "dimensional collapse (rank 4)": torch.randn(n, 4, generator=g) @ torch.randn(4, d, generator=g)
    + 0.01 * torch.randn(n, d, generator=g),
    "complete collapse": torch.randn(1, d, generator=g) + 0.01 * torch.randn(n, d, generator=g),
}
reports = {name: evaluate.collapse_report(z) for name, z in synthetic.items()}
rows = ["| embedding | std of l2-normalised z | 1/sqrt(d) | effective rank | uniformity |",
        "|---|---|---|---|---|"]
rows += [f"| {name} | {r['std']:.4f} | {r['reference_std']:.4f} | {r['effective_rank']:.1f} "
         f"| {r['uniformity']:.2f} |" for name, r in reports.items()]
Markdown("\n".join(rows))

# %%
def plot_spectra(embeddings: dict, title: str):
    """Singular values of the centred, l2-normalised embeddings: absolute and relative."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, z in embeddings.items():
        s = evaluate.singular_values(F.normalize(z.float(), dim=1))
        k = torch.arange(1, len(s) + 1)
        axes[0].plot(k, s.clamp_min(1e-8), label=name)
        axes[1].plot(k, (s / s[0]).clamp_min(1e-8), label=name)
    axes[0].set_title(f"{title}: singular values", fontsize=10)
    axes[1].set_title("divided by the largest one (the shape of the spectrum)", fontsize=10)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("index k")
    axes[0].legend(fontsize=8, frameon=False)
    plt.tight_layout()


plot_spectra(synthetic, "synthetic embeddings")

# %% [markdown]
# On the left, the absolute size: the completely collapsed embedding has almost no spread
# left in any direction. On the right, each spectrum divided by its largest value: the
# rank-4 embedding falls off a cliff after four values, while the completely collapsed one
# looks flat, because the little spread it has left is isotropic noise. So read both
# panels: the shape of the spectrum shows dimensional collapse, its size shows complete
# collapse. Of the single numbers, the std catches complete collapse but not dimensional
# collapse; the effective rank catches both.
#
# ## Experiment: the plain siamese network collapses
#
# Three runs of VICReg that differ only in the coefficients of its loss, at the same profile
# and seed:
#
# | run | invariance | variance | covariance | expected |
# |---|---|---|---|---|
# | invariance only | 25 | 0 | 0 | complete collapse |
# | no covariance | 25 | 25 | 0 | dimensional collapse |
# | VICReg | 25 | 25 | 1 | healthy |
#
# We keep the trained networks (`need_model=True`) to embed held-out images afterwards.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data,
                               need_model=True)
        for label, (key, _) in variants.items()}
for run in runs.values():
    print(run.caption())

# %% [markdown]
# The training loop records the std of the $\ell_2$-normalised embedding and its effective
# rank on every logged batch, and VICReg logs its three terms even when their coefficient is
# 0. The variance term, $\frac1d \sum_j \max(0, 1 - \operatorname{std}(z_j))$, reads as
# "how far below 1 the spread of each dimension is": 1 means every dimension is constant.

# %%
dim = runs["VICReg"].config["method_args"].get("expander", VICRegConfig.expander)[-1]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
course.plot_curves(runs, "std_l2", ax=axes[0], reference=dim ** -0.5,
                   reference_label=r"$1/\sqrt{d}$", title="std of l2-normalised z")
course.plot_curves(runs, "rank", ax=axes[1], title="effective rank of z (training batch)")
course.plot_curves(runs, "variance", ax=axes[2], title="variance term (1: every dim constant)")
plt.tight_layout()

# %%
Markdown(course.results_table(runs))

# %% [markdown]
# ## Diagnostics on held-out images
#
# The logged numbers come from training batches. For the final verdict we embed test images
# the networks never saw: two augmented views of each (VICReg's recipe, with the training
# normalisation), through the backbone and the expander in evaluation mode.

# %%
@torch.no_grad()
def embed_views(method, cfg, n_images=1024, seed=0):
    """Embeddings z_a, z_b (N, d) of two augmented views of held-out images."""
    seen = random_subset(train_data, cfg["train_size"], seed=0)  # the loop's normalisation
    images = random_subset(test_data, min(n_images, cfg["eval_test_size"] or n_images), seed=2).images
    views = augment.build_recipe("vicreg", train_data.image_size, *seen.mean_std())(
        images, torch.Generator().manual_seed(seed))
    method.eval()
    z_a, z_b = (torch.cat([method.expander(method.backbone(v[i:i + 256]))
                           for i in range(0, len(v), 256)]) for v in views)
    method.train()
    return z_a, z_b


held_out = {label: embed_views(run.method, run.config) for label, run in runs.items()}
final = {}
for label, (z_a, z_b) in held_out.items():
    final[label] = evaluate.collapse_report(z_a, z_b)
    final[label]["raw_std"] = z_a.std(dim=0).mean().item()
    final[label]["knn"] = runs[label].metrics["knn_top1"]
rows = ["| run | std of l2-normalised z | 1/sqrt(d) | effective rank | alignment | uniformity "
        "| std of raw z | kNN |", "|---" * 8 + "|"]
rows += [f"| {label} | {r['std']:.4f} | {r['reference_std']:.4f} | {r['effective_rank']:.1f} | "
         f"{r['alignment']:.3f} | {r['uniformity']:.2f} | {r['raw_std']:.3g} | {r['knn']:.3f} |"
         for label, r in final.items()]
Markdown("\n".join(rows))

# %%
plot_spectra({label: z_a for label, (z_a, _) in held_out.items()}, "held-out embeddings")

# %%
fig, ax = plt.subplots(figsize=(4.5, 3.4))
for label, r in final.items():
    ax.scatter(r["alignment"], r["uniformity"], s=40, label=label)
ax.set_xlabel("alignment (lower: views closer)")
ax.set_ylabel("uniformity (lower: images spread)")
ax.set_title("Wang & Isola's two properties", fontsize=10)
ax.legend(fontsize=8, frameon=False)
plt.tight_layout()

# %% [markdown]
# ## What the runs show
#
# The claims, checked against the held-out numbers above (computed from this run, not
# written by hand; at the `smoke` size the runs are too short to show them). The words have
# the course's one meaning (`sslkit.course`): *collapsed* is a std of the
# $\ell_2$-normalised $z$ below a fifth of $1/\sqrt{d}$, or a raw spread (mean
# per-dimension std) below 0.1; one run is *better* than another when its kNN is higher by
# more than the evaluation's noise (`S.knn_gap`).

# %%
ref = final["VICReg"]["reference_std"]
inv, nocov, full = final["invariance only"], final["no covariance"], final["VICReg"]
course.verdict("the invariance term alone collapses the embedding to (nearly) one point",
               course.collapsed(inv["std"], round(ref ** -2), mean_std=inv["raw_std"]),
               f"std of l2-normalised z {inv['std']:.4f} (1/sqrt(d) = {ref:.4f}), "
               f"std of raw z {inv['raw_std']:.3g} (VICReg: {full['raw_std']:.3g})")
course.verdict("the collapsed network is a worse feature extractor (kNN)",
               S.better(full["knn"], inv["knn"]),
               f"kNN {inv['knn']:.3f} vs {full['knn']:.3f}")
course.verdict("full VICReg keeps the std near 1/sqrt(d)", full["std"] > 0.5 * ref,
               f"std {full['std']:.4f} vs {ref:.4f}")
course.verdict("without the covariance term the rank falls (dimensional collapse) ...",
               nocov["effective_rank"] < 0.5 * full["effective_rank"],
               f"effective rank {nocov['effective_rank']:.1f} vs {full['effective_rank']:.1f}")
course.verdict("... while the std does not (no complete collapse)",
               nocov["std"] > 0.5 * ref
               and not course.collapsed(nocov["std"], round(ref ** -2), mean_std=nocov["raw_std"]),
               f"std {nocov['std']:.4f} vs 1/sqrt(d) = {ref:.4f}")
course.verdict("a collapsed embedding has small alignment but uniformity near 0",
               inv["alignment"] < full["alignment"] and inv["uniformity"] > 0.5 * full["uniformity"],
               f"alignment {inv['alignment']:.3f} vs {full['alignment']:.3f}, uniformity "
               f"{inv['uniformity']:.2f} vs {full['uniformity']:.2f}")

# %% [markdown]
# There are two ways down to the trivial solution, and the diagnostics see them
# differently. With the mean squared error, the cheapest way to make $z_a = z_b$ is often
# to make *all* of $z$ small: the expander's last layer shrinks and the embedding contracts
# towards the origin, the single point $c = 0$. The std of the raw $z$ (and VICReg's
# variance term, which approaches 1) sees that at once. The std of the *normalised*
# embedding is blind to the scale, and falls only as the directions of the shrinking
# embeddings also line up; read the two together. The kNN accuracy of the backbone is what
# we care about in the end: once the gradient through a collapsed head is near zero, the
# backbone stops learning.
#
# Without the covariance term nothing prevents all dimensions from encoding the same few
# features, each with the required variance: we expect the std to stay near its reference
# while the spectrum drops steeply after its first values and the effective rank falls
# (the verdicts above say whether our run shows it). This is the dimensional collapse that
# Jing et al. (2022) found in contrastive methods too, and the reason why a collapse
# monitor should log the rank and not only the std.

# %% [markdown]
# ## What a collapsed representation keeps: the shapes laboratory
#
# The std and the rank say *that* a representation collapsed; they do not say what is left
# in it. On the embedded shapes every factor of every image is known (the shape, which is
# the class, its colour, position, size, rotation, and the background's hue and texture),
# so we can ask: which of them can a kNN probe still read from a network
# (`sslkit.evaluate.probe_model`)? Two runs of the course's "lab" size (150 steps of 64
# images with the "shapes" recipe, which repaints the object and the background in every
# view, so the shape is all the views share): full VICReg and the invariance term alone.
# We probe both the backbone's features $h$, what a downstream task would use, and the
# embedding $z$ the loss sees, beside the same network untrained.

# %%
from torch import nn
from sslkit.train.loop import set_up

lab_runs = {label: experiments.run(key, LAB_RUNS[key], train_data=shapes_train,
                                   test_data=shapes_test, need_model=True)
            for label, (key, _) in lab_variants.items()}
for run in lab_runs.values():
    print(run.caption())
untrained = set_up(S.config("vicreg", "lab"), shapes_train, shapes_test)


def lab_probes(method):
    """Factor probes of the backbone features h and of the embedding z = expander(h)."""
    probe = lambda model: evaluate.probe_model(model, shapes_train, shapes_test,  # noqa: E731
                                               untrained.mean, untrained.std)
    return probe(method.backbone), probe(nn.Sequential(method.backbone, method.expander))


networks = {"untrained": untrained.method, **{k: r.method for k, r in lab_runs.items()}}
probed = {label: lab_probes(method) for label, method in networks.items()}
h_probes = {f"h: {label}": p[0] for label, p in probed.items()}
z_probes = {f"z: {label}": p[1] for label, p in probed.items()}
Markdown("kNN probe accuracy of each factor (1,000 held-out images), from the backbone "
         "features h and from the embedding z:\n\n" + evaluate.probes_table({**h_probes, **z_probes}))

# %% [markdown]
# Read the class row first: it is the content, the one thing both views of an image share.
# Then the style rows (hue, background hue, background texture), which the recipe redraws in
# every view. A healthy run should move $h$ and $z$ towards the class and away from the
# style. A collapsed embedding has nothing left to probe, whatever its backbone computes;
# and since the gradient through a collapsed head vanishes, the backbone under it stays
# close to where it started, so its $h$ keeps the untrained network's colours and little
# shape. The verdicts below check each of these readings against the table.

# %%
lab_gap = course.noise_gap(1000)  # the probes' held-out images
acc = {label: {f: r[f]["accuracy"] for f in r} for label, r in {**h_probes, **z_probes}.items()}
course.verdict("the collapsed embedding z reads the shape worse than VICReg's",
               acc["z: VICReg"]["class"] > acc["z: invariance only"]["class"] + lab_gap,
               f"class from z: {acc['z: invariance only']['class']:.2f} (invariance only) vs "
               f"{acc['z: VICReg']['class']:.2f} (VICReg); noise {lab_gap:.3f}")
course.verdict("under a collapsed head the backbone learns no shape (h no better than "
               "untrained)",
               acc["h: invariance only"]["class"] <= acc["h: untrained"]["class"] + lab_gap,
               f"class from h: {acc['h: invariance only']['class']:.2f} vs untrained "
               f"{acc['h: untrained']['class']:.2f}; VICReg {acc['h: VICReg']['class']:.2f}")
course.verdict("what the collapsed run's backbone keeps is style: it reads the object's hue "
               "better than VICReg's backbone does",
               acc["h: invariance only"]["hue"] > acc["h: VICReg"]["hue"] + lab_gap,
               f"hue from h: {acc['h: invariance only']['hue']:.2f} vs VICReg "
               f"{acc['h: VICReg']['hue']:.2f} (chance {probed['VICReg'][0]['hue']['chance']:.2f})")

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
display(Markdown(course.run_lengths(runs, "03_collapse")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - A joint-embedding (siamese) network embeds two views with shared weights and pulls the
#   embeddings together.
# - The distance alone has a trivial minimum: a constant embedding. Every method in this
#   course is a way to rule it out.
# - Complete collapse: std of the $\ell_2$-normalised embedding far below $1/\sqrt{d}$, or a
#   vanishing raw std when the embedding shrinks towards the origin; uniformity near 0. The
#   effective rank need not fall: it reads the shape of the cloud, not its size (a cloud
#   shrinking to the origin can keep a high rank; read the table above for our run's).
# - Dimensional collapse: the std looks fine, but the effective rank is low and the
#   singular-value spectrum drops after a few values.
# - On data whose factors are known, a probe per factor shows what a representation keeps;
#   the shapes laboratory shows it for a collapsed run beside a healthy one.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-collapse-std
# Write `my_std_of_l2_normalized(z)` for an embedding `z` of shape `(N, D)`: normalise each
# row to unit length, take the (unbiased) std of each dimension over the batch, and return
# the mean over dimensions as a float. Running the cell below checks it with
# `sslkit.checkers.check_std_of_l2_normalized(my_std_of_l2_normalized)`.
# ```

# %%
from sslkit import checkers


def my_std_of_l2_normalized(z):
    """z: (N, D) -> float: rows to unit length, std over the batch, mean over dimensions."""
    raise NotImplementedError("your code here")


checkers.check_std_of_l2_normalized(my_std_of_l2_normalized)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_std_of_l2_normalized(z):
    z = F.normalize(z, dim=1)  # each row to unit length
    return z.std(dim=0).mean().item()  # std over the batch, mean over dimensions


assert checkers.check_std_of_l2_normalized(my_std_of_l2_normalized)

# %% [markdown]
# ```{exercise}
# :label: ex-collapse-rank
# Write `my_effective_rank(z)`: the singular values $\sigma$ of `z` (not centred), the
# distribution $p = \sigma / \sum \sigma + \epsilon$ with $\epsilon = 10^{-7}$ (RankMe's
# guard against $\log 0$), and $\exp(-\sum_k p_k \log p_k)$. Running the cell below checks
# it with `sslkit.checkers.check_effective_rank(my_effective_rank)`. What does it return for
# a constant embedding, and why not 0?
# ```

# %%
def my_effective_rank(z):
    """z: (N, D) -> float: exp of the entropy of the normalised singular values of z."""
    raise NotImplementedError("your code here")


checkers.check_effective_rank(my_effective_rank)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_effective_rank(z):
    s = torch.linalg.svdvals(z.double())
    p = s / s.sum() + 1e-7
    return torch.exp(-(p * p.log()).sum()).item()


assert checkers.check_effective_rank(my_effective_rank)
print("constant embedding:", my_effective_rank(torch.randn(1, 16).expand(64, 16)))
# A constant embedding is the matrix 1 c^T of rank 1: one non-zero singular value,
# p = (1, 0, ...), entropy 0, effective rank e^0 = 1 (the epsilon moves it a little). Centring
# first would make it the zero matrix, whose "spectrum" is all zeros; RankMe does not
# centre, so a single point counts as one direction.

# %% [markdown]
# ```{exercise}
# :label: ex-collapse-reference
# Check the $1/\sqrt{d}$ reference numerically: draw `z = torch.randn(4096, d)` for
# $d = 16, 64, 256, 1024$ and compare `sslkit.evaluate.std_of_l2_normalized(z)` with
# $1/\sqrt{d}$. Then add a constant offset, `z + 3`, and explain the new value.
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
g = torch.Generator().manual_seed(0)
print("    d   std(z)   1/sqrt(d)   std(z + 3)   1/sqrt(10 d)")
for d in (16, 64, 256, 1024):
    z = torch.randn(4096, d, generator=g)
    print(f"{d:5d}   {evaluate.std_of_l2_normalized(z):.4f}   {d ** -0.5:.4f}      "
          f"{evaluate.std_of_l2_normalized(z + 3):.4f}       {(10 * d) ** -0.5:.4f}")
# The isotropic values follow 1/sqrt(d). With the offset, every vector points roughly
# along (1, ..., 1): the normalised vectors bunch together on the sphere and the std drops,
# towards 1/sqrt(10 d), since the offset has norm 3 sqrt(d) against a spread of sqrt(d)
# (norm about sqrt(10 d) in all). The std measures spread *around the mean direction*: an
# embedding that moved away from the origin looks partly collapsed even though it carries
# the same information, one reason to read it next to the effective rank.

# %% [markdown]
# ```{exercise}
# :label: ex-collapse-cosine
# Replace the MSE by the negative cosine similarity: train SimSiam without its stop-gradient
# and without predictor, `S.config("simsiam", method_args={"stop_gradient": False,
# "predictor": "none"})`, and plot `std_l2` and `rank`. Which of the two diagnostics sees
# the collapse? (Hint: look at the last layer of SimSiam's projector, and ask what it
# does and does not prevent.)
# ```

# %%
# your code here: experiments.run(...) on that config, then course.plot_curves

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# run = experiments.run("03-ex-cosine", S.config("simsiam", method_args={
#     "stop_gradient": False, "predictor": "none"}), train_data=train_data, test_data=test_data)
# fig, axes = plt.subplots(1, 2, figsize=(10, 3))
# course.plot_curves({"cosine, no sg": run}, "std_l2", ax=axes[0], reference=0.2 * dim ** -0.5,
#                    reference_label="collapse line")
# course.plot_curves({"cosine, no sg": run}, "rank", ax=axes[1])
# ```
#
# This chapter did not store that run; chapter 6 stores a close one, SimSiam without the
# stop-gradient but with its predictor, and its curves and verdicts show what happened
# there. The hint is a trap worth falling into: SimSiam's projector ends with a BatchNorm
# without affine parameters, so in training mode every dimension of $z$ has mean 0 and
# variance 1 over the batch, and one might conclude that the embedding cannot become a
# constant. But BatchNorm only fixes two moments per dimension. A batch in which nearly
# every image lands on the *same* point and a few outliers carry all the variance
# satisfies both, and so does a batch whose embeddings line up along a few directions.
# How to read your two curves: a std of the $\ell_2$-normalised output far below
# $1/\sqrt{d}$ means the normalised embeddings of almost all images coincide; an effective
# rank that falls while the std stays up means they line up along a few directions, which
# only the rank sees. BatchNorm makes a perfectly constant output impossible, not a
# collapsed one.
#
# </details>

# %% [markdown]
# ## References
#
# - J. Bromley, I. Guyon, Y. LeCun, E. Säckinger, R. Shah. *Signature Verification using a
#   "Siamese" Time Delay Neural Network.* NeurIPS 1993.
# - R. Hadsell, S. Chopra, Y. LeCun. *Dimensionality Reduction by Learning an Invariant
#   Mapping.* CVPR 2006.
# - X. Chen, K. He. *Exploring Simple Siamese Representation Learning.* CVPR 2021.
#   arXiv:2011.10566.
# - L. Jing, P. Vincent, Y. LeCun, Y. Tian. *Understanding Dimensional Collapse in
#   Contrastive Self-supervised Learning.* ICLR 2022. arXiv:2110.09348.
# - Q. Garrido, R. Balestriero, L. Najman, Y. LeCun. *RankMe: Assessing the Downstream
#   Performance of Pretrained Self-Supervised Representations by Their Rank.* ICML 2023.
#   arXiv:2210.02885.
# - T. Wang, P. Isola. *Understanding Contrastive Representation Learning through Alignment
#   and Uniformity on the Hypersphere.* ICML 2020. arXiv:2005.10242.
# - A. Bardes, J. Ponce, Y. LeCun. *VICReg: Variance-Invariance-Covariance Regularization
#   for Self-Supervised Learning.* ICLR 2022. arXiv:2105.04906.
