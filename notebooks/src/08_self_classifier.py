# %% [markdown]
# # Self-Classifier: classes from a uniform prior
#
# **Goals.** After this chapter you can
# - say why a siamese *classifier* trained with a plain cross-entropy between two views puts
#   every image in one class;
# - derive Self-Classifier's loss from Bayes' rule and a uniform prior over the classes, and
#   say which softmax runs over the classes and which over the batch;
# - show with your own runs that the plain loss collapses and the Self-Classifier loss gives
#   balanced clusters, and score those clusters against the true labels (NMI, cluster
#   accuracy).
#
# DINO (previous chapter) already ends in a softmax over $K$ dimensions, but it never asks
# those dimensions to be classes: $K$ is in the thousands and nothing requires the images to
# spread evenly over them. Self-Classifier (Amrani, Karlinsky & Bronstein; first posted in
# 2021) turns the idea into a classifier proper: $C$ classes, one softmax, and a training
# signal that says only "two views of one image belong to the same class". The network
# learns representation and classes at once, in one stage, without pseudo-labels, a memory
# bank, a momentum encoder or a stop-gradient.

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

import math

import matplotlib.pyplot as plt
import torch

from sslkit import augment, course, evaluate, experiments
from sslkit.losses import self_classifier_loss, siamese_ce_loss
from sslkit.methods.self_classifier import SelfClassifier

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data and views
#
# CIFAR-10 (the embedded shapes at the smoke profile): 10 classes, so a classifier with
# $C = 10$ outputs can be scored against the labels it never saw. Self-Classifier borrows
# DINO's augmentations: two global crops and a few small local crops (2 here), all of which
# go through the same network.

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
recipe = augment.build_recipe("dino", train_data.image_size, mean, std, n_local=2)
x = train_data.images[:8]
views = recipe(x, torch.Generator().manual_seed(0))
fig, axes = plt.subplots(5, 1, figsize=(8, 5.6))
course.show_images(x, ax=axes[0], title="images")
for i, (ax, v) in enumerate(zip(axes[1:], views)):
    kind = "global" if i < 2 else "local"
    course.show_images(v, ax=ax, title=f"{kind} crop {i + 1} ({v.shape[-1]} px)", mean=mean,
                       std=std)
plt.tight_layout()

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains: Self-Classifier, and the same
# network trained with the plain cross-entropy instead of its uniform prior (the experiment
# below). The book's results are stored and reused; the chapter reads the clusters off each
# trained classifier, so a stored run whose weights are not on this machine (a fresh clone)
# trains again. The plan says which will train, and for how long on this device.

# %%
# at the smoke profile (CI only), shorter runs and a smaller kNN keep the notebook quick
RUN_SIZE = {"smoke": dict(steps=20, log_every=4, eval_train_size=1024, eval_test_size=500)
            }.get(S.profile, {})
ours, plain = "Self-Classifier (uniform prior)", "plain cross-entropy"
variants = {  # label: (result key, method_args)
    ours: ("08-selfclassifier-0", {}),
    plain: ("08-selfclassifier-1", {"uniform_prior": False}),
}
RUNS = {key: S.config("selfclassifier", method_args=args, **RUN_SIZE)
        for key, args in variants.values()}
experiments.plan(RUNS, train_data=train_data, test_data=test_data, need_model=True)

# %% [markdown]
# ## The idea
#
# A backbone and an MLP projector embed a view; the embedding is $\ell_2$-normalised and a
# linear classifier with normalised weights gives $C$ logits $l(x) \in [-1, 1]^C$, the
# cosines between the embedding and $C$ learned class vectors.
#
# ### The naive siamese classifier
#
# Read the logits as class probabilities,
# $p(y \mid x) = \operatorname{softmax}_y\big(l(x)/\tau\big)$, and ask the two views
# $x_1, x_2$ of an image to agree, with the cross-entropy of one view's prediction against
# the other's:
#
# $$
# \ell(x_1, x_2) = -\sum_{y=1}^{C} p(y \mid x_2) \log p(y \mid x_1).
# $$
#
# This loss has a perfect minimiser that learns nothing: put every image in class 1 with
# full confidence. Both views then agree, $p(y \mid x)$ is one-hot and $\ell = 0$. Nothing in
# the loss asks for the classes to be *used*.
#
# ### Adding a uniform prior with Bayes' rule
#
# What we know, and the naive loss ignores, is that the classes should be used equally
# often: a uniform prior $p(y) = 1/C$. Self-Classifier builds it into the prediction. Take
# the samples of a batch of size $N$ as the only possible inputs, each with $p(x) = 1/N$.
# For a batch the logits form an $N \times C$ matrix, and two normalisations make sense:
#
# - **rows** (over the classes):
#   $r_{ny} = \operatorname{softmax}_y\big(l_{ny}/\tau_{\text{row}}\big)$, the classifier's
#   own $p(y \mid x_n)$;
# - **columns** (over the batch): $p(x_n \mid y) = r_{ny} / \sum_{n'} r_{n'y}$, which of the
#   batch's images class $y$ describes (Bayes' rule with $p(x) = 1/N$).
#
# Bayes' rule, now with the uniform prior, turns $p(x \mid y)$ back into a class
# prediction:
#
# $$
# \tilde p(y \mid x_n) = \frac{p(x_n \mid y)\, p(y)}{p(x_n)}
#                    = \frac{N}{C}\, \frac{r_{ny}}{\sum_{n'} r_{n'y}} .
# $$
#
# The column normalisation is what changes everything. If the network puts every image in
# class 1, then $r_{n1} = 1$ for all $n$, each image gets $p(x_n \mid 1) = 1/N$, and
# $\tilde p(1 \mid x_n) = 1/C$: a class that claims the whole batch explains no image in
# particular. The other classes get $r_{ny} \approx 0$ for every image, so their columns
# normalise to $1/N$ as well. The prediction is uniform, and the cross-entropy of a uniform
# prediction is $\log C$ whatever the target: the collapsed network scores like a blind
# guess. If instead the batch splits evenly, each image confidently in one class of $N/C$
# members, then $\tilde p = 1$ for its class and the loss is 0.
#
# The target side gets the same treatment, sharper: the other view's logits are normalised
# over the batch with a lower temperature,
# $q_{ny} = \operatorname{softmax}_n\big(l_{ny}/\tau_{\text{col}}\big)$, and then each row
# is made to sum to 1, which is Bayes' rule with a uniform prior applied to $q$ read as
# $p(x \mid y)$. The loss is the cross-entropy between the two, averaged over the
# batch and over the pairs of views (every ordered pair except two local crops), with
# $\tau_{\text{row}} = 0.1$ and $\tau_{\text{col}} = 0.05$ as in the official code. Nothing
# is detached: gradients flow through both the target and the prediction.
#
# Both losses are pure functions in sslkit:

# %%
course.show_source(self_classifier_loss)

# %%
course.show_source(siamese_ce_loss)

# %% [markdown]
# Before any training, the two losses on three hand-made batches of cosine logits ($N = 64$,
# $C = 10$, the same logits for both views): every image in one class; the images split evenly
# over the classes; random cosines.

# %%
N, C = 64, 10
collapsed = torch.zeros(N, C)
collapsed[:, 0] = 1.0
balanced = torch.zeros(N, C)
balanced[torch.arange(N), torch.arange(N) % C] = 1.0
random_cos = torch.rand(N, C, generator=torch.Generator().manual_seed(0)) * 2 - 1
rows = ["| batch | plain cross-entropy | Self-Classifier |", "|---|---|---|"]
for name, logits in (("all in one class", collapsed), ("evenly split", balanced),
                     ("random", random_cos)):
    rows.append(f"| {name} | {float(siamese_ce_loss([logits, logits])):.3f} | "
                f"{float(self_classifier_loss([logits, logits])):.3f} |")
rows.append(f"| (log C) | {math.log(C):.3f} | {math.log(C):.3f} |")
from IPython.display import Markdown
Markdown("\n".join(rows))

# %% [markdown]
# The plain loss cannot tell the collapsed batch from the balanced one (both near 0); the
# Self-Classifier loss gives the collapsed batch $\log C$ and the balanced one nearly 0 (a
# softmax at a finite temperature is never exactly one-hot, and 64 images cannot split
# exactly evenly over 10 classes).
#
# The method module runs the projector, the normalised classifier(s) and this loss; a switch
# `uniform_prior=False` replaces it with the plain cross-entropy:

# %%
course.show_source(SelfClassifier.forward)

# %% [markdown]
# `forward` calls `_loss` once per classifier head; the switch lives there:

# %%
course.show_source(SelfClassifier._loss)

# %% [markdown]
# and the clusters are read off the trained classifier as the argmax:

# %%
course.show_source(SelfClassifier.predict_clusters)

# %% [markdown]
# ## Experiment: the plain cross-entropy against the uniform prior
#
# Two runs that differ only in `uniform_prior`, at the same profile and seed, with
# $C = 10$ classes (the number of CIFAR-10 classes; the cpu profile also trains
# over-clustering heads with 20 and 40 classes, as the paper does with several heads, and we
# read the clusters off the 10-class head). The runs keep the trained networks
# (`need_model=True`): the clusters are computed from the classifier, not from the stored
# numbers.
#
# During training we log `classes_used`, how many classes the batch's argmax reaches, and
# `largest_class_fraction`, the share of the batch in the most popular class.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data,
                               need_model=True)
        for label, (key, _) in variants.items()}
for run in runs.values():
    print(run.caption())

# %%
num_classes = runs[ours].method.cfg.num_classes  # C of the head the clusters are read from
fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
course.plot_curves(runs, "classes_used", ax=axes[0], reference=num_classes,
                   reference_label=f"C = {num_classes}", title="classes used in a batch")
course.plot_curves(runs, "largest_class_fraction", ax=axes[1], reference=1 / num_classes,
                   reference_label="1/C", title="largest class's share of the batch")
course.plot_curves(runs, "loss", ax=axes[2], title="training loss")
axes[1].set_ylim(0, 1.05)
plt.tight_layout()

# %% [markdown]
# ### Clusters on the test set
#
# Each of the 2,000 test images goes to the class the trained classifier prefers. Cluster
# ids are arbitrary, so the scores against the true classes are invariant to relabelling:
# **NMI**, the mutual information between clusters and labels normalised to $[0, 1]$, and
# **cluster accuracy**, the accuracy after the best one-to-one matching of clusters to
# labels (Hungarian algorithm). A single cluster has NMI 0 and accuracy $1/C$.

# %%
x_test = augment.normalize(test_data.images, mean, std)
clusters = {label: run.method.predict_clusters(x_test) for label, run in runs.items()}
sizes = {label: torch.bincount(c, minlength=num_classes) for label, c in clusters.items()}
scores = {label: {"nmi": evaluate.nmi(c, test_data.labels),
                  "acc": evaluate.cluster_accuracy(c, test_data.labels),
                  "largest": float(sizes[label].max()) / len(c),
                  "used": int((sizes[label] >= 0.01 * len(c)).sum())}
          for label, c in clusters.items()}

fig, axes = plt.subplots(1, len(runs), figsize=(12, 3), sharey=True)
for ax, (label, size) in zip(axes, sizes.items()):
    ax.bar(range(num_classes), size.sort(descending=True).values, color="tab:blue")
    ax.axhline(len(x_test) / num_classes, color="gray", ls="--", lw=1, label="N / C")
    ax.set_xlabel("cluster (sorted by size)")
    ax.set_title(label, fontsize=9)
axes[0].set_ylabel("test images")
axes[0].legend(fontsize=8, frameon=False)
plt.tight_layout()

# %%
rows = ["| run | NMI | cluster accuracy | largest cluster | clusters with >= 1 % | kNN top-1 "
        "| profile | device | train time |", "|---|---|---|---|---|---|---|---|---|"]
for label, run in runs.items():
    s = scores[label]
    rows.append(f"| {label} | {s['nmi']:.3f} | {s['acc']:.3f} | {s['largest']:.1%} | "
                f"{s['used']} of {num_classes} | {run.metrics['knn_top1']:.3f} | "
                f"{run.profile} | {run.device} | {run.wall_s:.0f} s |")
Markdown("\n".join(rows))

# %% [markdown]
# Which classes end up in which cluster? The contingency matrix of the Self-Classifier run
# (rows: clusters in the order of the best matching; columns: true classes):

# %%
counts = torch.zeros(num_classes, len(test_data.classes), dtype=torch.long)
counts.index_put_((clusters[ours], test_data.labels), torch.ones(len(x_test), dtype=torch.long),
                  accumulate=True)
rows_, cols_ = evaluate.linear_assignment(-counts.numpy())
order = list(rows_[cols_.argsort()]) + [r for r in range(num_classes) if r not in rows_]
fig, ax = plt.subplots(figsize=(5.5, 4))
ax.imshow(counts[order], cmap="Blues")
ax.set_xticks(range(len(test_data.classes)), test_data.classes, rotation=60, fontsize=8)
ax.set_yticks(range(num_classes), [str(i) for i in order], fontsize=8)
ax.set_xlabel("true class")
ax.set_ylabel("cluster")
plt.tight_layout()

# %% [markdown]
# ## What the runs show
#
# The paper's claims, each checked against the numbers above (the verdicts are computed from
# this run, not written by hand). "Balanced" is read as no cluster above $2.5/C$ of the
# test set and at least $0.8\,C$ clusters holding 1 % of it or more; "meaningful" as an NMI
# above 0.1 and a cluster accuracy above twice chance.

# %%
course.verdict("the plain siamese cross-entropy collapses to one class",
               scores[plain]["largest"] > 0.9,
               f"largest cluster {scores[plain]['largest']:.1%} of the test set, "
               f"{scores[plain]['used']} cluster(s) with >= 1 %")
course.verdict("the uniform prior gives balanced clusters",
               scores[ours]["largest"] < 2.5 / num_classes
               and scores[ours]["used"] >= 0.8 * num_classes,
               f"largest cluster {scores[ours]['largest']:.1%} (uniform: "
               f"{1 / num_classes:.0%}), {scores[ours]['used']} of {num_classes} clusters used")
course.verdict("the clusters are meaningful: they agree with the true classes",
               scores[ours]["nmi"] > 0.1 and scores[ours]["acc"] > 2 / num_classes,
               f"NMI {scores[ours]['nmi']:.3f}, cluster accuracy {scores[ours]['acc']:.3f} "
               f"(chance {1 / num_classes:.2f}); plain: NMI {scores[plain]['nmi']:.3f}, "
               f"accuracy {scores[plain]['acc']:.3f}")
course.verdict("the collapsed network is a worse feature extractor (kNN)",
               S.better(runs[ours].metrics["knn_top1"], runs[plain].metrics["knn_top1"]),
               f"kNN {runs[plain].metrics['knn_top1']:.3f} vs "
               f"{runs[ours].metrics['knn_top1']:.3f}")

# %% [markdown]
# With the plain loss, the number of classes in use falls to one within a few dozen steps
# and never recovers: once every image sits in the same class, the loss is at its minimum
# and its gradient vanishes. With the uniform prior the batch keeps using all classes from
# start to finish. The prior makes the classes *balanced*; what they *mean* is decided by
# the augmentations, which say what two views of an image share and so what a class may
# be built on: two crops of one image also share its colours and its background, and a
# cluster may gather images by those instead of by object. In the paper, on ImageNet, Self-Classifier's
# classes are scored the same way (NMI, adjusted mutual information, adjusted Rand index and
# cluster accuracy against the ImageNet labels) and compared with two-stage clustering
# methods.

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
display(Markdown(course.run_lengths(runs, "08_self_classifier")))
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - A siamese classifier trained with a plain cross-entropy between views collapses: one
#   class for all images is a perfect minimiser.
# - Self-Classifier asserts a uniform prior over classes. By Bayes' rule, the prediction is
#   a column normalisation (over the batch) of the row softmax (over the classes), times
#   $N/C$; a class that takes every image then predicts $1/C$, and collapse costs $\log C$.
# - The result is a network that outputs balanced clusters directly; NMI and Hungarian-
#   matched accuracy score them against labels. Which clusters it finds depends on the
#   augmentations, which decide what two views of an image share.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-sc-loss
# Write `my_self_classifier_loss(logits)` for a list of two views' $(N, C)$ logits, with
# $\tau_{\text{row}} = 0.1$ and $\tau_{\text{col}} = 0.05$: the target from one view (softmax
# over the batch, then each row normalised to sum 1), the prediction from the other (softmax
# over the classes, each column normalised over the batch, times $N/C$), the cross-entropy
# averaged over the batch and over both directions. Running the cell below checks it with
# `sslkit.checkers.check_self_classifier_loss(my_self_classifier_loss)`.
# ```

# %%
import torch.nn.functional as F
from sslkit import checkers


def my_self_classifier_loss(logits):
    """logits: [view 1, view 2], each (N, C) -> Self-Classifier's loss (a scalar)."""
    raise NotImplementedError("your code here")


checkers.check_self_classifier_loss(my_self_classifier_loss)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_self_classifier_loss(logits, row_tau=0.1, col_tau=0.05, eps=1e-12):
    n, c = logits[0].shape
    targets, log_preds = [], []
    for l in logits:
        q = F.softmax(l / col_tau, dim=0)              # over the batch
        targets.append(F.normalize(q, p=1, dim=1))     # rows sum to 1
        r = F.softmax(l / row_tau, dim=1)              # over the classes
        p_x_given_y = F.normalize(r, p=1, dim=0)       # columns sum to 1
        log_preds.append(torch.log(n / c * p_x_given_y + eps))
    ce = lambda t, lp: -(t * lp).sum(dim=1).mean()
    return 0.5 * (ce(targets[0], log_preds[1]) + ce(targets[1], log_preds[0]))


assert checkers.check_self_classifier_loss(my_self_classifier_loss)
# `F.normalize(..., p=1)` divides by the sum, guarded by a tiny epsilon, as the official
# code does.

# %% [markdown]
# ```{exercise}
# :label: ex-sc-partial-collapse
# Build logits for a batch of $N = 60$ where the images use only $k$ of the $C = 10$ classes,
# evenly ($k = 1, 2, 5, 10$), and compute both losses with the package functions. How does
# the Self-Classifier loss depend on $k$? Can you derive the formula?
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
C = 10
print(" k   plain loss   Self-Classifier   formula (k/C) log(C/k) + ((C-k)/C) log C")
for k in (1, 2, 5, 10):
    logits = torch.zeros(60, C)
    logits[torch.arange(60), torch.arange(60) % k] = 1.0
    formula = k / C * math.log(C / k) + (C - k) / C * math.log(C)
    print(f"{k:2d}   {float(siamese_ce_loss([logits, logits])):.3f}        "
          f"{float(self_classifier_loss([logits, logits])):.3f}             {formula:.3f}")
# With confident logits, an image's prediction gives its own class N/C * k/N = k/C (its
# class has N/k members) and each of the C - k unused classes 1/C (an unused column is
# flat over the batch). Its target, after the row normalisation, puts k/C on its class and
# 1/C on each unused one. Hence l = (k/C) log(C/k) + ((C-k)/C) log C: the uniform prior
# penalises partial collapse too, more the more classes are left out; the plain loss does
# not see it.

# %% [markdown]
# ```{exercise}
# :label: ex-sc-overcluster
# Train Self-Classifier with `num_classes=20` on CIFAR-10 (ten true classes). How does the
# cluster accuracy behave, and why does NMI suit this comparison better? (Hint: what does
# `cluster_accuracy` do with clusters that have no class to be matched to?)
# ```

# %%
# your code here: the metrics first, on a made-up clustering; then the run with num_classes=20

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
# The hint, without training: a clustering that splits every class into two pure clusters
# of half its size (20 clusters, each holding one class only).
labels = test_data.labels
halves = torch.zeros_like(labels)
for c in labels.unique():
    members = (labels == c).nonzero().squeeze(1)
    halves[members] = 2 * c + (torch.arange(len(members)) % 2)
print(f"every class split into two pure clusters: cluster accuracy "
      f"{evaluate.cluster_accuracy(halves, labels):.3f}, NMI {evaluate.nmi(halves, labels):.3f}")
print(f"the labels themselves: cluster accuracy {evaluate.cluster_accuracy(labels, labels):.3f}, "
      f"NMI {evaluate.nmi(labels, labels):.3f}")
# The one-to-one matching pairs only as many clusters as there are classes; the images of
# the other clusters count as errors, so the accuracy falls although every cluster is pure.
# NMI needs no one-to-one match: a clean split keeps the mutual information with the labels
# high. The run itself is not stored: train it with
#   experiments.run("08-ex-20-classes", S.config("self_classifier", ...,
#                   method_args={"num_classes": 20}), ...)
# and read its cluster sizes and both scores as in the table above. The uniform prior asks
# for 20 equal clusters; if the classes split, the accuracy drops towards the split value
# printed here while NMI stays close to the 10-class run's.

# %% [markdown]
# ## References
#
# - E. Amrani, L. Karlinsky, A. Bronstein. *Self-Supervised Classification Network.*
#   ECCV 2022. arXiv:2103.10994 (first version 2021). Official code:
#   `elad-amrani/self-classifier`.
# - M. Caron et al. *Emerging Properties in Self-Supervised Vision Transformers.* ICCV 2021.
#   arXiv:2104.14294 (the multi-crop augmentation).
# - N. X. Vinh, J. Epps, J. Bailey. *Information Theoretic Measures for Clusterings
#   Comparison.* JMLR 2010 (NMI).
