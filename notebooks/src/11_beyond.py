# %% [markdown]
# # Beyond the article: whitening, twin distributions, log-determinants, bags of words
#
# **Goals.** After this chapter you can
# - whiten a batch of embeddings and check that the result has identity covariance;
# - state the objectives of W-MSE, TWIST and CorInfoMax, and say which kind of collapse
#   each one rules out, and how;
# - explain, after Hua et al. (2021), why standardising each dimension prevents complete
#   collapse but not dimensional collapse, and why decorrelation does;
# - compare these three methods with Barlow Twins and VICReg on the same data, backbone
#   and budget;
# - decorrelate a batch with Shuffled-DBN, whitening in random groups of dimensions;
# - describe OBoW's target, a bag of the teacher's visual words, next to DINO's.
#
# Barlow Twins and VICReg (chapters 9 and 10) prevent collapse with *soft* penalties on
# second-order statistics of the batch: correlations pushed towards the identity, standard
# deviations pushed above 1, covariances pushed towards 0. This chapter follows the
# article's "further reading" to three methods of the same family that go further, each in
# its own way:
#
# | method | what keeps the embedding spread | rules out |
# |---|---|---|
# | W-MSE (Ermolov et al., 2021) | whitening: the batch is *made* to have identity covariance before the loss | complete and dimensional collapse, by construction |
# | TWIST (Wang et al., 2021) | entropy terms on $K$-way "class" distributions: sharp per image, uniform over the batch | collapse onto one class or onto the uniform distribution |
# | CorInfoMax (Ozsoy et al., 2022) | the log-determinant of each branch's covariance, which goes to $-\infty$ if any direction collapses | complete and dimensional collapse |

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

from sslkit import augment, course, evaluate, experiments
from sslkit.losses import corinfomax_loss, twist_loss, whiten, wmse_loss
from sslkit.losses.barlow_twins import batch_standardize
from sslkit.methods import get_method
from sslkit.models import shuffled_dbn

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# CIFAR-10 once more (the embedded shapes at the smoke profile). W-MSE's official code
# draws both views from one symmetric pipeline, close to SimCLR's (shown below); TWIST
# uses Barlow Twins' asymmetric pair and CorInfoMax VICReg's, both shown in chapters 9
# and 10.

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("simclr", train_data.image_size, mean, std)
x = train_data.images[:8]
view_1, view_2 = recipe(x, torch.Generator().manual_seed(0))
course.show_views(x, {"view 1 (W-MSE)": view_1,
                   "view 2 (W-MSE)": view_2}, mean=mean, std=std)

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: W-MSE, TWIST and CorInfoMax next
# to chapters 9 and 10's Barlow Twins and VICReg, then OBoW next to chapter 7's DINO (the
# runs of other chapters under their own keys and configurations, so their stored results
# are reused). The plan says which will train here instead, and for how long on this device.

# %%
keys = {"barlowtwins": "09-barlowtwins-0", "vicreg": "10-vicreg-0", "wmse": "11-wmse",
        "twist": "11-twist", "corinfomax": "11-corinfomax"}
names = {"barlowtwins": "Barlow Twins", "vicreg": "VICReg", "wmse": "W-MSE",
         "twist": "TWIST", "corinfomax": "CorInfoMax"}
if S.profile == "smoke":  # keeps the test quick: VICReg alone stands for chapters 9-10
    del keys["barlowtwins"]
RUNS = {key: S.config(m, "long") for m, key in keys.items()}
RUNS["11-obow"] = S.config("obow", "long")
if S.profile != "smoke":  # CI runs OBoW alone
    RUNS["07-dino-collapse-0"] = S.config("dino", "long", method_args={"n_local": 2})
experiments.plan(RUNS, train_data=train_data, test_data=test_data)

# %% [markdown]
# ## W-MSE: whiten, then pull together
#
# Whitening maps a batch $Z \in \mathbb{R}^{N \times D}$ to $W = (Z - \bar Z)\, A$ such that
# the covariance of $W$ is the identity. With the covariance $\Sigma = \frac{1}{N-1}(Z -
# \bar Z)^\top (Z - \bar Z)$ and its Cholesky factor $\Sigma = L L^\top$, the choice
# $A = L^{-\top}$ works: $\operatorname{Cov}(W) = L^{-1} \Sigma L^{-\top} = I$. W-MSE
# (Ermolov et al., 2021) whitens each view's embeddings this way, then takes the mean
# squared error between the $\ell_2$-normalised whitened vectors of the two views:
#
# $$
# \mathcal{L}_{W\text{-}MSE} = \frac{1}{N} \sum_{n} \Big\lVert \frac{w^a_n}{\lVert w^a_n \rVert} - \frac{w^b_n}{\lVert w^b_n \rVert} \Big\rVert_2^2 .
# $$
#
# Whatever the network outputs, the whitened batch is spread evenly over all $D$ directions,
# so neither a constant nor a low-rank output can lower the loss: only agreement between
# the views can. The price: $\Sigma$ must be invertible, so a whitened batch needs more
# samples than dimensions ($N > D$). The paper therefore keeps $D$ small (64 on CIFAR) and
# whitens random sub-batches of 128 inside a batch of 256, averaging the loss over them.

# %%
course.show_source(whiten)

# %% [markdown]
# Check it on a batch of correlated Gaussian vectors: before whitening the covariance is
# far from diagonal; after, it is the identity up to rounding.

# %%
g = torch.Generator().manual_seed(0)
z = torch.randn(256, 16, generator=g) @ torch.randn(16, 16, generator=g) + 3.0  # NxD, correlated
w = whiten(z)
cov = lambda t: torch.cov(t.T)  # DxD, 1/(N-1) as whiten's
fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
for ax, (title, t) in zip(axes, (("covariance of z", z), ("covariance of whiten(z)", w))):
    c = cov(t)
    im = ax.imshow(c, cmap="RdBu_r", vmin=-c.abs().max(), vmax=c.abs().max())
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
plt.tight_layout()
deviation = (cov(w) - torch.eye(16)).abs().max().item()
print(f"mean of whiten(z): {w.mean(0).abs().max().item():.1e}; "
      f"max |Cov(whiten(z)) - I| = {deviation:.1e}")

# %% [markdown]
# The loss whitens each view's sub-batches separately and compares them:

# %%
course.show_source(wmse_loss)

# %% [markdown]
# ## Feature decorrelation: standardising is not enough
#
# Hua et al. (2021) study a minimal joint-embedding framework — two views, one network, a
# distance between the outputs — and separate two failure modes. Standardising every output
# dimension over the batch (as a BatchNorm at the end of the head does) is enough to stop
# *complete* collapse: no dimension can be constant. But it does not stop *dimensional*
# collapse: the dimensions can all be standardised and still be strongly correlated, i.e.
# lie close to a low-dimensional subspace. Hua et al. link dimensional collapse to these
# correlations between axes, and remove them by *decorrelating* the output: a decorrelated
# batch normalisation (whitening), applied to random groups of dimensions that are reshuffled
# at every step ("Shuffled-DBN"). They also find that the strength of the correlations
# between axes, measured without labels, tracks how good the representation is.
#
# The methods of chapters 9-11 decorrelate in different ways: Barlow Twins penalises the
# off-diagonal of the cross-correlation between views, VICReg the off-diagonal of each
# branch's covariance (softly, by a loss), W-MSE and Shuffled-DBN whiten the batch (exactly,
# by construction), and CorInfoMax maximises the log-determinant, which is largest for
# decorrelated dimensions of a given variance. Chapter 10's VICReg run without the
# covariance term is the soft version of the experiment: the variance hinge standardises
# the dimensions, and the effective rank falls anyway.
#
# The difference shows on a synthetic batch with dimensional collapse: $D = 32$ dimensions
# that are mixtures of only 4 underlying factors, plus a little noise. Standardising leaves
# the spectrum as it was; whitening flattens it; Shuffled-DBN whitens random groups of
# dimensions (here 4 groups of 8), so one application flattens the spectrum only partly —
# the reshuffle at every training step is what decorrelates every pair over time.

# %%
g = torch.Generator().manual_seed(1)
factors = torch.randn(512, 4, generator=g) * torch.tensor([4.0, 3.0, 2.0, 1.0])
collapsed = factors @ torch.randn(4, 32, generator=g) + 0.05 * torch.randn(512, 32, generator=g)
batches = {"collapsed z": collapsed, "standardised": batch_standardize(collapsed),
           "Shuffled-DBN, 4 groups": shuffled_dbn(collapsed, 4, generator=g),
           "whitened": whiten(collapsed)}


def mean_abs_correlation(t: torch.Tensor) -> float:
    c = torch.corrcoef(t.T)
    return c[~torch.eye(c.shape[0], dtype=torch.bool)].abs().mean().item()


fig, ax = plt.subplots(figsize=(6, 3.2))
for label, t in batches.items():
    s = evaluate.singular_values(t)
    ax.semilogy(range(1, len(s) + 1), (s / s[0]).numpy(), marker=".",
                label=f"{label}: eff. rank {evaluate.effective_rank(t, center=True):.1f}, "
                      f"mean |corr| {mean_abs_correlation(t):.2f}")
ax.set_xlabel("index")
ax.set_ylabel("singular value / largest")
ax.set_title("spectrum of a batch with dimensional collapse (D = 32)", fontsize=10)
ax.legend(fontsize=8, frameon=False)
plt.tight_layout()

# %% [markdown]
# Whitening brings the effective rank to $D$, but look at what it does: it rescales the 28
# noise directions to the same size as the 4 real factors. Applied to a network's output
# inside the loss, this means the two views must now agree in *every* direction, including
# the ones that carried only noise — the network can no longer lower the loss by ignoring
# them, and has to fill them with information shared by the views.
#
# Shuffled-DBN as sslkit implements it, after the paper's pseudo-code:

# %%
course.show_source(shuffled_dbn)

# %% [markdown]
# ## TWIST: twin class distributions
#
# TWIST (Wang et al., 2021) ends the head in $K$ logits, standardised over the batch by a
# BatchNorm without affine parameters, and reads their softmax $p \in \Delta^{K}$ as a
# distribution over $K$ unnamed classes. The loss asks three things:
#
# $$
# \mathcal{L}_{TWIST} = \underbrace{\tfrac12\big[\mathrm{KL}(p^a \Vert p^b) + \mathrm{KL}(p^b \Vert p^a)\big]}_{\text{consistency}}
# + \underbrace{\tfrac12\big[\overline{H(p^a)} + \overline{H(p^b)}\big]}_{\text{sharpness}}
# - \underbrace{\tfrac12\big[H(\overline{p^a}) + H(\overline{p^b})\big]}_{\text{diversity}},
# $$
#
# where $\overline{H(p)}$ is the mean entropy of the samples' distributions and
# $H(\bar p)$ the entropy of the batch's mean distribution. The two views must agree;
# each image must be assigned confidently (low entropy per sample); and the batch as a
# whole must use all $K$ classes (high entropy of the mean). Putting every image in one
# class is sharp but not diverse; giving every image the uniform distribution is diverse
# (in the mean) but not sharp: each collapse costs $\log K$. Together, diversity minus
# sharpness, $H(\bar p) - \overline{H(p)}$, is the mutual information between an image and
# its predicted class, which is how the final version of the paper motivates the loss. The idea is close to
# Self-Classifier's uniform prior (chapter 8) and DINO's centring and sharpening (chapter 7).

# %%
course.show_source(twist_loss)

# %% [markdown]
# ## CorInfoMax: the log-determinant of the covariance
#
# CorInfoMax (Ozsoy et al., 2022) maximises a second-order measure of information: the
# log-determinant of each branch's covariance matrix $R$, while pulling the two views
# together with an MSE,
#
# $$
# \mathcal{L}_{CorInfoMax} = -\frac{1}{D}\Big[\log\det\big(R^a + \varepsilon I\big) + \log\det\big(R^b + \varepsilon I\big)\Big]
# + \alpha\, \frac{1}{ND}\sum_n \lVert z^a_n - z^b_n \rVert^2 .
# $$
#
# $\log\det R = \sum_k \log \lambda_k$ sums the logarithms of the eigenvalues of $R$: a
# single direction with no variance sends it to $-\infty$, so complete *and* dimensional
# collapse are infinitely expensive. For a fixed total variance, the determinant is largest
# when all eigenvalues are equal — decorrelated dimensions of equal spread, the same target
# as Barlow Twins and VICReg, reached through one smooth function instead of separate
# diagonal and off-diagonal penalties. $R$ is a moving average over batches (weight 0.01 on
# the old estimate at the paper's CIFAR settings), so the state is carried across steps.

# %%
course.show_source(corinfomax_loss)

# %% [markdown]
# ## Experiment: the decorrelation family at one budget
#
# Five runs: Barlow Twins, VICReg, W-MSE, TWIST and CorInfoMax (Barlow Twins is left out at
# the `smoke` profile, to keep the test quick), each with its own default
# head and augmentation at this profile, and the same data, backbone, optimiser, batch
# size, number of steps and seed: a chapter's long run, 3,000 steps of 128 images at the
# `cpu` profile (about eight epochs of CIFAR-10). The Barlow Twins and VICReg runs are
# those of chapters 9 and 10 (same keys and configurations: a stored result is reused).
#
# The embeddings differ in size and nature: 1024-wide for Barlow Twins and VICReg, 64-wide
# for W-MSE and CorInfoMax, and for TWIST the $K$-way softmax. So we report the effective
# rank of $z$ both as it is and as a fraction of its maximum $\min(N, D)$, and the std of
# the $\ell_2$-normalised $z$ relative to its isotropic value $1/\sqrt{D}$.

# %%
runs = {names[m]: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data)
        for m, key in keys.items()}
for run in runs.values():
    print(run.caption())
knn_random = course.random_init_knn(S.config("vicreg", "long"), train_data, test_data)
print(f"kNN of the randomly initialised backbone: {knn_random:.3f}")


# %%
def embedding_dim(run) -> int:
    """D of the embedding the run's collapse diagnostics read."""
    args = run.config["method_args"]
    method = run.config["method"]
    defaults = get_method(method).config()
    if method == "vicreg":
        return list(args.get("expander", defaults.expander))[-1]
    if method == "twist":
        return args.get("num_classes", defaults.num_classes)
    return list(args.get("projector", defaults.projector))[-1]


rows = ["| method | D | kNN top-1 | eff. rank | rank / min(N, D) | std_l2 x sqrt(D) | train time |",
        "|---|---|---|---|---|---|---|"]
summary = {}
for label, run in runs.items():
    d, n = embedding_dim(run), run.config["batch_size"]
    summary[label] = dict(knn=run.metrics["knn_top1"], rank=run.metrics["rank"],
                          rank_frac=run.metrics["rank"] / min(n, d),
                          std_rel=run.metrics["std_l2"] * d ** 0.5,
                          collapsed=course.collapsed(run.metrics["std_l2"], d))
    s = summary[label]
    rows.append(f"| {label} | {d} | {s['knn']:.3f} | {s['rank']:.1f} | {s['rank_frac']:.2f} | "
                f"{s['std_rel']:.2f} | {run.wall_s:.0f} s |")
rows.append(f"| random init (no training) | – | {knn_random:.3f} | – | – | – | – |")
from IPython.display import Markdown
Markdown("\n".join(rows) + f"\n\nProfile {S.profile}, device {runs['VICReg'].device}.")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
course.plot_curves(runs, "loss", ax=axes[0], title="training loss (each its own scale)")
axes[0].set_yscale("symlog")
for label, run in runs.items():
    d = embedding_dim(run)
    steps, values = run.series("std_l2")
    axes[1].plot(steps, [v * d ** 0.5 for v in values], label=label)
    steps, values = run.series("rank")
    axes[2].plot(steps, [v / min(run.config["batch_size"], d) for v in values], label=label)
axes[1].axhline(1.0, color="gray", ls="--", lw=1)
axes[1].set_title(r"std of $\ell_2$-normalised z $\times \sqrt{D}$ (1 = isotropic)", fontsize=10)
axes[2].set_title("effective rank / min(N, D)", fontsize=10)
for ax in axes[1:]:
    ax.set_xlabel("step")
axes[0].get_legend().remove()
axes[2].legend(fontsize=8, frameon=False)
plt.tight_layout()

# %% [markdown]
# ## OBoW: a bag of visual words as the target
#
# DINO (chapter 7) distils a teacher's *distribution* over $K$ learned prototypes. OBoW
# (Gidaris et al., 2021), from the article's further reading, distils something more
# concrete: the teacher's **bag of visual words**. The teacher (an EMA of the student, as
# in DINO) looks at the feature maps of one view; every local feature is softly assigned to
# the nearest words of a vocabulary, and the assignments are max-pooled over the image and
# normalised into a histogram: *which local patterns occur in this image*. The student sees
# other crops and must predict that histogram from its pooled global feature, with a linear
# classifier whose weights are generated from the vocabulary by a small MLP, so that the
# classifier follows the vocabulary as it changes. The vocabulary itself needs no k-means:
# it is a queue, and every step one locally averaged teacher feature per image replaces
# the oldest word. A global feature that predicts which local words are present has to
# encode the local content of the image, including what the crops did not show.
#
# The student's step and the target, from `sslkit`:

# %%
from sslkit.losses import bow_target
from sslkit.methods.obow import OBoW
course.show_source(bow_target)

# %%
course.show_source(OBoW.forward)

# %% [markdown]
# The teacher's bag-of-words target, which `forward` asks for, is built here:

# %%
course.show_source(OBoW._targets)

# %% [markdown]
# One long run of OBoW next to chapter 7's healthy DINO run (the same data, backbone,
# optimiser, batch, number of steps and views size; the same key and config, so the stored
# run is reused). OBoW's own monitor is the *perplexity* of the BoW targets over the batch:
# the number of words the batch effectively uses, near 1 if every image got the same few
# words. (At the smoke profile, CI runs OBoW alone.)

# %%
bow_runs = {"OBoW": experiments.run("11-obow", RUNS["11-obow"],
                                    train_data=train_data, test_data=test_data)}
if "07-dino-collapse-0" in RUNS:
    bow_runs["DINO (chapter 7)"] = experiments.run(
        "07-dino-collapse-0", RUNS["07-dino-collapse-0"],
        train_data=train_data, test_data=test_data)
for run in bow_runs.values():
    print(run.caption())
obow = bow_runs["OBoW"]
num_words = obow.config["method_args"].get("num_words", get_method("obow").config().num_words)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
course.plot_curves({"OBoW": obow}, "perplexity_batch", ax=axes[0], reference=num_words,
                   reference_label=f"vocabulary size K = {num_words}",
                   title="perplexity of the BoW targets over the batch")
course.plot_curves(bow_runs, "knn_top1", ax=axes[1], reference=knn_random,
                   reference_label="untrained", title="kNN top-1 during training")
plt.tight_layout()
Markdown(course.results_table(bow_runs, columns=("knn_top1",)))

# %% [markdown]
# ## What the runs show
#
# For each of the three methods of this chapter: does it learn, does it avoid collapse, and
# is it as good as Barlow Twins and VICReg at this budget? The words have the course's one
# meaning (`sslkit.course`): *learns* is a kNN above the untrained backbone's by more than
# the evaluation's noise (`S.knn_gap`, 1.4 points), *collapsed* a std of the
# $\ell_2$-normalised $z$ below a fifth of $1/\sqrt{D}$, *no worse* no lower than the
# family's best by more than the noise. The verdicts are computed from the runs above.

# %%
family_best = max(summary[k]["knn"] for k in ("Barlow Twins", "VICReg") if k in summary)
ranks = {label: evaluate.effective_rank(t, center=True) for label, t in batches.items()}
course.verdict("one Shuffled-DBN step decorrelates part of the way: effective rank between "
               "standardising and full whitening",
               ranks["standardised"] < ranks["Shuffled-DBN, 4 groups"] < ranks["whitened"],
               ", ".join(f"{k} {v:.1f}" for k, v in ranks.items()))
perplexity = obow.series("perplexity_batch")[1][-1]
course.verdict("OBoW learns (kNN above the untrained backbone)",
               S.learns(obow.metrics["knn_top1"], knn_random),
               f"kNN {obow.metrics['knn_top1']:.3f} vs untrained {knn_random:.3f}")
course.verdict("OBoW's targets do not collapse onto a few words (batch perplexity > 10)",
               perplexity > 10, f"perplexity {perplexity:.0f} of K = {num_words} words")
if "DINO (chapter 7)" in bow_runs:
    dino_knn = bow_runs["DINO (chapter 7)"].metrics["knn_top1"]
    course.verdict("OBoW is no worse than DINO at the same budget",
                   not S.better(dino_knn, obow.metrics["knn_top1"]),
                   f"kNN {obow.metrics['knn_top1']:.3f} vs DINO {dino_knn:.3f}")
course.verdict("whitening gives the batch identity covariance (W-MSE's premise)",
               deviation < 1e-3, f"max |Cov(whiten(z)) - I| = {deviation:.1e}")
for label in ("W-MSE", "TWIST", "CorInfoMax"):
    s = summary[label]
    course.verdict(f"{label} learns without collapse",
                   S.learns(s["knn"], knn_random) and not s["collapsed"],
                   f"kNN {s['knn']:.3f} (random init {knn_random:.3f}), std x sqrt(D) "
                   f"{s['std_rel']:.2f}, rank / min(N, D) {s['rank_frac']:.2f}")
    course.verdict(f"{label} is no worse than the best of Barlow Twins / VICReg at this budget",
                   not S.better(family_best, s["knn"]),
                   f"kNN {s['knn']:.3f} vs {family_best:.3f}")

# %% [markdown]
# A few epochs on a small CNN rank methods poorly: their published differences on
# ImageNet are a few points, within what changes of learning rate or head width move here.
# What such a run does show reliably is *whether* a method keeps its embedding spread, and
# how fast it learns at the start. Chapter 12 puts every method of the course
# side by side.

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
display(Markdown(course.run_lengths({**runs, **bow_runs}, "11_beyond")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - W-MSE whitens each view's batch so that its covariance is the identity, then asks the
#   whitened views to agree: collapse is impossible by construction, at the cost of
#   needing more samples than dimensions.
# - TWIST reads the head's output as class distributions: consistent across views, sharp
#   per image, uniform over the batch.
# - CorInfoMax maximises the log-determinant of each branch's covariance, which any
#   collapsed direction sends to $-\infty$.
# - Hua et al.: standardising each dimension stops complete collapse only; dimensional
#   collapse is a matter of correlations between dimensions, and decorrelation — soft
#   (Barlow Twins, VICReg) or exact (whitening) — is what removes it.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-beyond-zca
# Write `my_zca_whiten(x)`: centre `x` (N, D), compute its covariance with $1/(N-1)$, take
# its eigendecomposition $\Sigma = U \Lambda U^\top$ and return $(x - \bar x)\, U
# \Lambda^{-1/2} U^\top$ (ZCA whitening). Running the cell below checks it with
# `sslkit.checkers.check_whitening(my_zca_whiten)`. ZCA differs from sslkit's Cholesky
# whitening, yet both pass: why is whitening not unique? W-MSE whitens the two views with
# two different matrices, each computed from its own batch: why must the whitening be a
# fixed function of the covariance (as Cholesky and ZCA are), and not any white basis?
# ```

# %%
from sslkit import checkers


def my_zca_whiten(x):
    """x: (N, D) -> (x - mean) U diag(1/sqrt(eigenvalues)) U^T, from the 1/(N-1) covariance."""
    raise NotImplementedError("your code here")


checkers.check_whitening(my_zca_whiten)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_zca_whiten(x):
    xc = x - x.mean(dim=0)                      # NxD
    cov = xc.T @ xc / (x.shape[0] - 1)          # DxD
    evals, evecs = torch.linalg.eigh(cov)
    return xc @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T


assert checkers.check_whitening(my_zca_whiten)
# If W is white, so is W Q for any orthogonal Q: Cov(W Q) = Q^T I Q = I; whitenings differ
# by such a rotation. The loss compares the two views coordinate by coordinate, each
# whitened with its own matrix; if each view were rotated arbitrarily, the coordinates
# would not correspond and the loss would be meaningless. Cholesky and ZCA are functions of
# the covariance alone, so two batches with similar covariances get similar whitening
# matrices. (ZCA is the whitening that changes the data least; Cholesky is cheaper. The
# official W-MSE code uses Cholesky.)

# %% [markdown]
# ```{exercise}
# :label: ex-beyond-wsize
# In `wmse_loss`, what happens when `w_size` is not larger than the embedding dimension $D$?
# Try `whiten(torch.randn(16, 32))`, then `whiten(torch.randn(16, 32), eps=0.1)`, and
# compute the covariance of the result in the second case. What does `eps` trade?
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
x = torch.randn(16, 32, generator=torch.Generator().manual_seed(0))
try:
    whiten(x)
except ValueError as error:  # 16 samples span at most 15 dimensions: no Cholesky factor
    print("eps = 0:", error)
cov = torch.cov(whiten(x, eps=0.1).T)
print(f"eps = 0.1: the covariance of the result has diagonal from {cov.diagonal().min():.2f} "
      f"to {cov.diagonal().max():.2f}, largest off-diagonal entry "
      f"{(cov - torch.diag(cov.diagonal())).abs().max():.2f}: not the identity")
# With eps > 0 the covariance is shrunk towards the identity, (1 - eps) C + eps I, which is
# invertible; the result is no longer exactly white, but it is defined. eps trades the
# exactness of the whitening for numerical stability on small sub-batches.

# %% [markdown]
# ```{exercise}
# :label: ex-beyond-twist
# Evaluate `twist_loss` for (a) logits that put every sample in class 0 with high
# confidence, (b) all-zero logits (every distribution uniform), and (c) confident logits
# with the classes spread evenly over the batch, for $N = 64$, $K = 8$, identical views.
# Compare each with $-\log K$.
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
import math

n, k, confident = 64, 8, 20.0
one_class = torch.zeros(n, k)
one_class[:, 0] = confident
spread = torch.zeros(n, k)
spread[torch.arange(n), torch.arange(n) % k] = confident
cases = {"(a) every sample in class 0": one_class, "(b) all-zero logits": torch.zeros(n, k),
         "(c) confident, classes spread evenly": spread}
print(f"-log K = {-math.log(k):.3f}")
for label, logits in cases.items():
    loss, terms = twist_loss(logits, logits, return_terms=True)
    print(f"{label}: loss {float(loss):.3f} (consistency {float(terms['consistency']):.3f}, "
          f"sharpness {float(terms['sharpness']):.3f}, diversity {float(terms['diversity']):.3f})")
# With identical views the consistency term is 0. (a) sharpness and diversity are both
# about 0: loss about 0. (b) sharpness = diversity = log K: loss 0. (c) sharpness about 0,
# diversity log K: loss about -log K, the minimum. Both collapsed solutions sit log K
# above it.

# %% [markdown]
# ## References
#
# - A. Ermolov, A. Siarohin, E. Sangineto, N. Sebe. *Whitening for Self-Supervised
#   Representation Learning.* ICML 2021. arXiv:2007.06346. Official code:
#   `htdt/self-supervised`.
# - F. Wang, T. Kong, R. Zhang, H. Liu, H. Li. *Self-Supervised Learning by Estimating
#   Twin Class Distributions.* arXiv:2110.07402, 2021. Official code: `bytedance/TWIST`.
# - S. Ozsoy, S. Hamdan, S. Ö. Arik, D. Yuret, A. T. Erdogan. *Self-Supervised Learning
#   with an Information Maximization Criterion.* NeurIPS 2022. arXiv:2209.07999. Official
#   code: `serdarozsoy/corinfomax-ssl`.
# - T. Hua, W. Wang, Z. Xue, S. Ren, Y. Wang, H. Zhao. *On Feature Decorrelation in
#   Self-Supervised Learning.* ICCV 2021. arXiv:2105.00470.
# - L. Huang, D. Yang, B. Lang, J. Deng. *Decorrelated Batch Normalization.* CVPR 2018.
#   arXiv:1804.08450.
