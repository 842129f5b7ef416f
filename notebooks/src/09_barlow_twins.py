# %% [markdown]
# # Barlow Twins: redundancy reduction
#
# **Goals.** After this chapter you can
# - compute the cross-correlation matrix of two views' embeddings and Barlow Twins' loss;
# - explain why a network that outputs a constant cannot minimise that loss, without any
#   predictor, stop-gradient, moving-average target or negative pair;
# - test, with your own runs, how the method reacts to the batch size, to the width of the
#   projector and to a projector without BatchNorm;
# - watch the matrix move from its random initialisation towards the identity.
#
# The methods of the previous chapters avoid collapse by an *asymmetry* between the two
# branches (BYOL, SimSiam), by centring and sharpening a teacher (DINO) or by a balanced
# prior over clusters (Self-Classifier). Barlow Twins (Zbontar et al., 2021) changes the
# objective instead: it asks each *dimension* of the embedding to carry information that
# no other dimension carries. The name comes from the neuroscientist Horace Barlow, who
# proposed in 1961 that sensory systems recode their highly redundant inputs into a code
# whose components are statistically independent (*redundancy reduction*).

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

from sslkit import augment, course, experiments, models
from sslkit.methods import get_method
from sslkit.methods.barlow_twins import BarlowTwins, BarlowTwinsConfig

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# CIFAR-10 again (the embedded shapes at the smoke profile). Barlow Twins uses BYOL's
# two *asymmetric* view pipelines (official `main.py`, `Transform`): both crop, flip,
# jitter colours and turn to grey at random, but the first view is always blurred and
# never solarised, the second is rarely blurred (p = 0.1) and sometimes solarised (p =
# 0.2).

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("barlowtwins", train_data.image_size, mean, std)
x = train_data.images[:8]
view_a, view_b = recipe(x, torch.Generator().manual_seed(0))
course.show_views(x, {"view A (blur p=1.0, solarize p=0)": view_a,
                   "view B (blur p=0.1, solarize p=0.2)": view_b}, mean=mean, std=std)

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: Barlow Twins at the profile's batch
# $B$ and projector width $D$, then with half the batch, a narrow projector, and no
# BatchNorm in the projector (the experiment below says why each). The book's results are
# stored and reused; the chapter looks at the first run's trained network, so that run
# trains again where its weights are not on this machine (a fresh clone). The plan says
# which will train, and for how long on this device.

# %%
spec = get_method("barlowtwins")
base = S.config("barlowtwins", "long").resolved(spec.train_defaults)
B, T, width = base.batch_size, base.steps, base.method_args["projector"][-1]
variants = {  # label: (result key, TrainConfig fields)
    f"B={B}, D={width}": ("09-barlowtwins-0", dict()),
    f"B={B // 2} (x2 steps)": ("09-barlowtwins-1", dict(
        batch_size=B // 2, steps=2 * T, log_every=2 * base.log_every,
        eval_every=2 * base.eval_every)),
    "D=128": ("09-barlowtwins-2", dict(method_args={"projector": (128, 128, 128)})),
    "no BN in projector": ("09-barlowtwins-3", dict(method_args={"projector_norm": "none"})),
}
RUNS = {key: S.config("barlowtwins", "long", **fields) for key, fields in variants.values()}
keep = "09-barlowtwins-0"  # the run whose trained network the chapter looks into
experiments.plan(RUNS, train_data=train_data, test_data=test_data, need_model=(keep,))

# %% [markdown]
# ## The idea
#
# One network $f$ (backbone, then a projector) embeds both views of a batch of $N$ images:
# $z^A = f(x^A)$ and $z^B = f(x^B)$, each of shape $(N, D)$. Standardise every dimension over
# the batch, $\hat z_{n,i} = (z_{n,i} - \mu_i)/\sigma_i$, and correlate dimension $i$ of one
# view with dimension $j$ of the other:
#
# $$
# \mathcal{C}_{ij} = \frac{1}{N}\sum_{n=1}^{N} \hat z^A_{n,i}\, \hat z^B_{n,j}
# \qquad (-1 \le \mathcal{C}_{ij} \le 1).
# $$
#
# The loss pushes this $D \times D$ matrix to the identity:
#
# $$
# \mathcal{L}_{BT} = \underbrace{\sum_i \big(1 - \mathcal{C}_{ii}\big)^2}_{\text{invariance}}
# \; + \; \lambda \underbrace{\sum_i \sum_{j \ne i} \mathcal{C}_{ij}^2}_{\text{redundancy reduction}} .
# $$
#
# - $\mathcal{C}_{ii} = 1$: dimension $i$ takes the same value (up to scale and shift) on
#   both views of every image, i.e. it is invariant to the augmentations.
# - $\mathcal{C}_{ij} = 0$ for $i \ne j$: dimension $i$ of one view says nothing about
#   dimension $j$ of the other, so no dimension is a copy of another.
#
# Why can't the network collapse? A constant output has zero variance; after
# standardisation it is zero, so $\mathcal{C}_{ii} = 0$ and the invariance term is at its
# *maximum* $D$. An output that varies along one direction only makes all dimensions copies
# of each other: the diagonal is fine but the off-diagonal entries are $\pm 1$. The minimum
# needs $D$ invariant *and* decorrelated dimensions. No asymmetry between the branches is
# needed: both views go through the same network, and the gradient flows through both.
#
# The paper uses $\lambda = 5 \cdot 10^{-3}$ (official code: 0.0051), a projector of three
# 8192-wide linear layers with BatchNorm and ReLU between them, and batches of 2048. The
# standardisation and the matrix are one function each in sslkit:

# %%
from sslkit.losses.barlow_twins import barlow_twins_loss, cross_correlation
course.show_source(cross_correlation)

# %%
course.show_source(barlow_twins_loss)

# %% [markdown]
# The method only runs both views through the same backbone and projector:

# %%
course.show_source(BarlowTwins.forward)

# %% [markdown]
# ## Experiment: batch size, projector width, no BatchNorm
#
# Four runs at the same profile and seed, each differing from the first in one switch.
# Every claim here is about what the network learns, so each is a chapter's long run
# (3,000 steps of 128 images at the `cpu` profile, about eight epochs of CIFAR-10, kNN every
# 1,000 steps): at 300 steps Barlow Twins was within the noise of an untrained network
# (kNN 0.376 against 0.345 in an earlier version of this chapter).
#
# - **batch size**: $B/2$ instead of the profile's $B$. To compare at the same number of
#   images seen (as the paper compares at the same number of epochs), the smaller batch
#   takes 2x more steps; the learning rate is scaled by batch/256, as usual.
# - **projector width**: $D = 128$ instead of the profile's width (1024 at the `cpu`
#   profile). The paper reports that accuracy keeps rising with $D$ up to 16384 (its Fig. 4),
#   where SimCLR and BYOL saturate.
# - **no BatchNorm in the projector** (`projector_norm="none"`): the paper's loss ablations
#   report that Barlow Twins hardly changes without it. The loss's own standardisation over
#   the batch stays: it is part of the objective.
#
# The first run also keeps the trained network (`need_model=True`) so that we can look at
# its cross-correlation matrix afterwards.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data,
                               need_model=key == keep)
        for label, (key, _) in variants.items()}
for run in runs.values():
    print(run.caption())

# %% [markdown]
# For scale: the kNN accuracy of the *same backbone at its random initialisation*, which
# every useful run must beat.

# %%
knn_random = course.random_init_knn(S.config("barlowtwins", "long"), train_data, test_data)
print(f"kNN of the randomly initialised backbone: {knn_random:.3f}")

# %%
from IPython.display import Markdown
Markdown(course.results_table(runs))

# %% [markdown]
# The two terms of the loss during training, per matrix entry so that different widths $D$
# compare, and the effective rank of $z$. Every curve is drawn against the number of images
# seen, so that the two batch sizes compare.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for label, run in runs.items():
    batch = run.config["batch_size"]
    d = run.config["method_args"]["projector"][-1]
    for ax, name in zip(axes, ("on_diag", "off_diag")):
        steps, values = run.series(name)
        # per entry: mean (1 - C_ii)^2 and mean C_ij^2, comparable across widths D
        per_entry = [v / d if name == "on_diag" else v / (d * d - d) for v in values]
        ax.plot([s * batch for s in steps], per_entry, label=label)
    steps, values = run.series("rank")
    axes[2].plot([s * batch for s in steps], values, label=label)
for ax, title in zip(axes, ("invariance: mean $(1-C_{ii})^2$",
                            "redundancy: mean $C_{ij}^2$, $i \\neq j$", "effective rank of z")):
    ax.set_xlabel("images seen")
    ax.set_title(title, fontsize=10)
axes[1].set_yscale("log")
axes[0].legend(fontsize=7, frameon=False)
plt.tight_layout()

# %% [markdown]
# ## The matrix, before and after training
#
# We compute $\mathcal{C}$ on held-out images (the test split), two fresh views each, once
# with the network at its random initialisation (the same seed, so the very weights the
# first run started from) and once with the trained network. The networks run in eval
# mode, so BatchNorm uses its running statistics; $\mathcal{C}$ itself always standardises
# over the batch it is given.

# %%
reference = runs[f"B={B}, D={width}"]
torch.manual_seed(reference.config["seed"])  # the training loop seeds the init the same way
initial = BarlowTwins(models.build_backbone(reference.config["backbone"],
                                            norm=reference.config["norm"]),
                      BarlowTwinsConfig(**reference.config["method_args"])).to(S.device)
networks = {"at initialisation": initial.eval(), "after training": reference.method.eval()}

n_held_out = min(512, len(test_data))
x_held = test_data.images[:n_held_out].to(S.device)
x_a, x_b = recipe(x_held, torch.Generator(device=S.device).manual_seed(1))
matrices = {stage: {n: net.cross_correlation(x_a[:n], x_b[:n]).cpu()
                    for n in (32, 64, 128, 256, 512) if n <= n_held_out}
            for stage, net in networks.items()}


def matrix_summary(c: torch.Tensor, lambd: float = initial.cfg.lambd) -> dict:
    """Mean diagonal, mean squared off-diagonal entry, and the loss sum (1-C_ii)^2 + lambd sum C_ij^2."""
    d = c.shape[0]
    off = c[~torch.eye(d, dtype=torch.bool)]
    loss = (1 - torch.diagonal(c)).pow(2).sum() + lambd * off.pow(2).sum()
    return {"diag": torch.diagonal(c).mean().item(), "off_sq": off.pow(2).mean().item(),
            "loss": loss.item()}


def show_matrix(stage="after training", n=n_held_out, block=32):
    """A block of C and the distribution of its entries, for one network and batch size."""
    c = matrices[stage][n]
    d = c.shape[0]
    off = c[~torch.eye(d, dtype=torch.bool)]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
    im = axes[0].imshow(c[:block, :block], cmap="RdBu_r", vmin=-1, vmax=1)
    axes[0].set_title(f"C[:{block}, :{block}], {stage}", fontsize=10)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    bins = torch.linspace(-1, 1, 81)
    axes[1].hist(off.numpy(), bins=bins.numpy(), density=True, alpha=0.6, label="off-diagonal")
    axes[1].hist(torch.diagonal(c).numpy(), bins=bins.numpy(), density=True, alpha=0.6,
                 label="diagonal")
    s = matrix_summary(c)
    axes[1].set_title(f"N={n}: mean C_ii = {s['diag']:.2f}, mean C_ij² = {s['off_sq']:.4f} "
                      f"(1/N = {1 / n:.4f})", fontsize=9)
    axes[1].legend(fontsize=8, frameon=False)
    plt.tight_layout()
    plt.show()


show_matrix("at initialisation")
show_matrix("after training")

# %% [markdown]
# At initialisation the two views of an image get nearly unrelated embeddings: the
# diagonal is far below 1. Training raises it — each dimension becomes invariant to the
# augmentations — and the redundancy term pushes back on the off-diagonal entries, which
# grow as the dimensions learn shared features (compare the two titles above: the mean
# $\mathcal{C}_{ij}^2$ before and after training). The two goals pull against each other: the cheapest way to make many
# dimensions invariant is to copy one invariant feature into all of them, and that is
# exactly what the off-diagonal term charges for. (Watch the training curves above: the
# off-diagonal entries can grow while invariance is being learnt; the redundancy term is
# what limits them.)
#
# **How low can the off-diagonal entries go?** Even for truly independent dimensions, a
# correlation estimated from $N$ samples is not exactly zero: it scatters with a standard
# deviation of about $1/\sqrt{N}$, so the mean of $\mathcal{C}_{ij}^2$ cannot fall below
# about $1/N$ — and the redundancy term below about $\lambda D(D-1)/N$. Move the sliders:
# the same trained network, with $\mathcal{C}$ estimated from fewer held-out images, looks
# more "redundant" than it is. This is one way in which the batch size enters Barlow Twins:
# the loss sees a noisy estimate of the matrix, and the noise grows as $D^2/N$.

# %%
import ipywidgets as widgets
widgets.interactive(
    show_matrix,
    stage=widgets.ToggleButtons(options=list(matrices), value="after training"),
    n=widgets.SelectionSlider(options=sorted(matrices["after training"]), value=n_held_out,
                              description="N images"),
    block=widgets.IntSlider(value=32, min=8, max=min(128, width), step=8,
                            description="block"))

# %% [markdown]
# ## What the runs show
#
# The claims, each checked against the numbers above (the verdicts are computed from this
# run, not written by hand):

# %%
knn = {k: r.metrics["knn_top1"] for k, r in runs.items()}
rank = {k: r.metrics["rank"] for k, r in runs.items()}
default, small, no_bn = f"B={B}, D={width}", f"B={B // 2} (x2 steps)", "no BN in projector"
before = matrix_summary(matrices["at initialisation"][n_held_out])
after = matrix_summary(matrices["after training"][n_held_out])
course.verdict("training moves C towards the identity (held-out loss down, diagonal up)",
               after["loss"] < before["loss"] and after["diag"] > before["diag"],
               f"loss {before['loss']:.1f} -> {after['loss']:.1f}; mean C_ii "
               f"{before['diag']:.2f} -> {after['diag']:.2f}, mean C_ij^2 {before['off_sq']:.4f} "
               f"-> {after['off_sq']:.4f} (on {n_held_out} held-out images)")
course.verdict("Barlow Twins learns without any asymmetry (kNN above a random backbone)",
               S.learns(knn[default], knn_random),
               f"kNN {knn[default]:.3f} vs {knn_random:.3f} at random initialisation "
               f"({100 * (knn[default] - knn_random):+.1f} points)")
course.verdict("a 2x smaller batch, same images seen, is no worse "
               "(paper Fig. 2: no large batch needed)",
               not S.better(knn[default], knn[small]),
               f"kNN at B={B // 2}: {knn[small]:.3f}, at B={B}: {knn[default]:.3f}")
course.verdict(f"a wider projector helps (paper Fig. 4): D={width} beats D=128",
               S.better(knn[default], knn["D=128"]),
               f"kNN {knn[default]:.3f} vs {knn['D=128']:.3f}")
course.verdict("no BatchNorm in the projector still works (paper's loss ablations)",
               S.learns(knn[no_bn], knn_random) and not S.better(knn[default], knn[no_bn]),
               f"kNN {knn[no_bn]:.3f} vs {knn[default]:.3f} with BN, effective rank "
               f"{rank[no_bn]:.1f} vs {rank[default]:.1f}")

# %% [markdown]
# How to read the batch-size runs. The article this course follows lists Barlow Twins among
# the methods sensitive to the batch size; the paper itself finds it works well down to
# batches of 256, far better than SimCLR, and gains nothing from batches beyond about 1024.
# Both are consistent with the $1/\sqrt{N}$ argument: what matters is $N$ compared to $D$.
# When our runs disagree with the paper, remember that they differ from it in almost
# everything but the loss: a small CNN, AdamW, 3,000 steps (about eight epochs of
# CIFAR-10) instead of a ResNet-50 trained for 1000 epochs of ImageNet. The width sweep is also
# cheaper than the paper's: on a CPU we compare $D = 128$ with the profile's width, not 8192
# with 16384, and a gap smaller than the evaluation's noise (`S.knn_gap`) counts as no
# difference. In our batch runs the smaller batch saw the same images in twice as many
# updates; at short budgets the number of updates can matter more than the batch, the
# trade-off that made batch 128 the `cpu` profile's default (`benchmarks/README.md`).

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
display(Markdown(course.run_lengths(runs, "09_barlow_twins")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - Barlow Twins standardises each embedding dimension over the batch and asks the
#   cross-correlation of the two views to be the identity: invariant, decorrelated
#   dimensions.
# - A constant or one-dimensional output is far from the minimum, so no predictor,
#   stop-gradient or EMA is needed.
# - The matrix is estimated from the batch: its off-diagonal noise is about $1/\sqrt{N}$
#   per entry, which ties the batch size to the embedding width $D$.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-bt-cross-correlation
# Write `my_cross_correlation(z_a, z_b)` returning the $(D, D)$ matrix $\mathcal{C}$:
# standardise each column over the batch (biased variance, $\epsilon = 10^{-5}$ under the
# square root, as `BatchNorm1d(affine=False)`), then average the products. Running the cell
# below checks it with `sslkit.checkers.check_cross_correlation(my_cross_correlation)`.
# ```

# %%
from sslkit import checkers


def my_cross_correlation(z_a, z_b):
    """z_a, z_b: (N, D) -> (D, D): columns standardised over the batch, products averaged."""
    raise NotImplementedError("your code here")


checkers.check_cross_correlation(my_cross_correlation)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_cross_correlation(z_a, z_b, eps=1e-5, unbiased=False):
    za = (z_a - z_a.mean(0)) / torch.sqrt(z_a.var(0, unbiased=unbiased) + eps)  # NxD
    zb = (z_b - z_b.mean(0)) / torch.sqrt(z_b.var(0, unbiased=unbiased) + eps)  # NxD
    return za.T @ zb / z_a.shape[0]  # DxD


assert checkers.check_cross_correlation(my_cross_correlation)
# With the unbiased variance (`torch.std`'s default) every entry is off by a factor
# (N-1)/N, which the checker reports as a small but clear difference:
print("\nwith the unbiased variance:")
assert not checkers.check_cross_correlation(
    lambda a, b: my_cross_correlation(a, b, unbiased=True))

# %% [markdown]
# ```{exercise}
# :label: ex-bt-loss
# Write `my_barlow_twins_loss(z_a, z_b, lambd=0.0051)` from your matrix; running the cell
# below checks it with `sslkit.checkers.check_barlow_twins_loss(my_barlow_twins_loss)`. Then
# compute it for `z_b = z_a` (identical views) and for a constant `z_a = z_b`: which term is
# zero in each case, and why does the second one not reach the minimum?
# ```

# %%
def my_barlow_twins_loss(z_a, z_b, lambd=0.0051):
    """sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2, C from my_cross_correlation."""
    raise NotImplementedError("your code here")


checkers.check_barlow_twins_loss(my_barlow_twins_loss)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def barlow_twins_terms(z_a, z_b):
    c = my_cross_correlation(z_a, z_b)
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on_diag, off_diag


def my_barlow_twins_loss(z_a, z_b, lambd=0.0051):
    on_diag, off_diag = barlow_twins_terms(z_a, z_b)
    return on_diag + lambd * off_diag


assert checkers.check_barlow_twins_loss(my_barlow_twins_loss)
z = torch.randn(256, 32, generator=torch.Generator().manual_seed(0))
for case, (z_a, z_b) in {"identical views": (z, z),
                         "a constant embedding": (torch.ones(256, 32), torch.ones(256, 32))
                         }.items():
    on_diag, off_diag = barlow_twins_terms(z_a, z_b)
    print(f"{case}: invariance term {float(on_diag):.4f}, redundancy term {float(off_diag):.4f} "
          f"(D = {z.shape[1]})")
# With identical views C is the correlation matrix of z: its diagonal is (almost) 1, so
# only the redundancy term remains. A constant embedding standardises to zero: C = 0, the
# redundancy term is 0 but the invariance term is D, its largest value.

# %% [markdown]
# ```{exercise}
# :label: ex-bt-noise
# Draw `z_a`, `z_b` as independent standard Gaussians of shape $(N, D)$ for
# $N \in \{64, 256, 1024\}$ and $D = 256$, and compute the mean of $\mathcal{C}_{ij}^2$ off
# the diagonal. Compare it with $1/N$. For the paper's setting ($D = 8192$, $N = 2048$,
# $\lambda = 0.0051$), how large is the redundancy term of perfectly independent dimensions,
# compared with the invariance term's largest value $D$?
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
g, d = torch.Generator().manual_seed(0), 256
for n in (64, 256, 1024):
    c = cross_correlation(torch.randn(n, d, generator=g), torch.randn(n, d, generator=g))
    off = c - torch.diag(torch.diagonal(c))
    print(f"N = {n:4d}: mean C_ij^2 off the diagonal {float(off.pow(2).sum()) / (d * (d - 1)):.5f}, "
          f"1/N = {1 / n:.5f}")
paper_d, paper_n, paper_lambd = 8192, 2048, 0.0051
print(f"paper: noise floor lambda D^2 / N = {paper_lambd * paper_d ** 2 / paper_n:.0f}, "
      f"against D = {paper_d}")
# lambda is small enough that the noise cannot outweigh invariance, which is one reason it
# must shrink as D grows.

# %% [markdown]
# ```{exercise}
# :label: ex-bt-lambda
# Rerun the first configuration with `method_args={"lambd": 0.0}` and with
# `method_args={"lambd": 0.05}`. What happens to the effective rank of $z$ without the
# redundancy term? Show the matrix of the $\lambda = 0$ run with `show_matrix` (train it
# with `need_model=True`).
# ```

# %%
# your code here: two experiments.run calls like the first configuration's

# %% [markdown]
# <details><summary>Solution</summary>
#
# This chapter did not store these runs. What the loss says: without the redundancy term
# nothing stops the dimensions from copying one another; the diagonal can still go to 1
# (each dimension invariant) while the off-diagonal entries grow, which is dimensional
# collapse. How to read your runs: compare the effective rank of the $\lambda = 0$ run with
# the first configuration's in the table above; a much lower rank and a matrix with large
# off-diagonal blocks mean the dimensions copied one another. The paper's ablation
# (invariance term alone) loses much of the linear accuracy. A large $\lambda$ makes
# decorrelation dominate: look for a slower rise of the diagonal in the $\lambda = 0.05$
# run.
#
# </details>

# %% [markdown]
# ## References
#
# - J. Zbontar, L. Jing, I. Misra, Y. LeCun, S. Deny. *Barlow Twins: Self-Supervised
#   Learning via Redundancy Reduction.* ICML 2021. arXiv:2103.03230. Official code:
#   `facebookresearch/barlowtwins`.
# - H. B. Barlow. *Possible principles underlying the transformation of sensory messages.*
#   In Sensory Communication, MIT Press, 1961.
# - J.-B. Grill et al. *Bootstrap Your Own Latent.* NeurIPS 2020. arXiv:2006.07733 (the
#   view pipelines).
