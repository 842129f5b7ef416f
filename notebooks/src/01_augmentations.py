# %% [markdown]
# # Augmentations: the views decide what is learnt
#
# **Goals.** After this chapter you can
# - name the two families of image augmentations, geometric and colour, and draw each
#   operation with `sslkit.augment`;
# - explain why self-supervised methods use much stronger augmentations than supervised
#   training, and read a joint-embedding recipe such as SimCLR's;
# - show, with your own runs, which pair of augmentations matters (crop + colour), and that
#   without colour augmentation the network takes a *colour shortcut*;
# - build views that fit a task: neighbouring slices of a 3D scan, and multi-crop.
#
# Every method in this course learns by pulling together the representations of two views
# of one image (see the {doc}`introduction <../book/intro>`). The loss only says "these two
# belong together"; *what* the network must keep in order to say so is decided by how the
# two views differ. Whatever the augmentations change, the representation learns to
# ignore; whatever they leave alone, it may use. Choosing augmentations is therefore
# choosing the invariances of the representation, and Chen et al. (SimCLR, 2020) found it
# to be one of the most important design choices of the whole framework.

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

from sslkit import augment, course, data, evaluate, experiments, models
from sslkit.train.loop import random_subset

S = course.setup(seed=0)
print(S)  # SSLKIT_PROFILE=smoke|cpu|gpu chooses the run size; unset, the hardware decides

# %% [markdown]
# ## Data
#
# CIFAR-10: 60,000 photographs of 32 px in ten classes (at the `smoke` profile, which only
# checks that the code runs, the embedded *shapes* data set stands in for it). The class is
# what an image shows; its colours, position, scale and background are nuisances that a
# good representation for classification need not keep.

# %%
train_data, test_data = course.load_data(S)  # CIFAR-10 (shapes at smoke)
mean, std = train_data.mean_std()
print(train_data)
x = train_data.images[:8]
course.show_images(x, title=" | ".join(train_data.classes[i] for i in train_data.labels[:8]))
plt.show()

# %% [markdown]
# ## The chapter's runs
#
# Every run of this chapter, declared before any trains. Three experiments train VICReg:
# five times on CIFAR-10 with different augmentation recipes (which pair of augmentations
# matters), three times on the embedded shapes with one style change switched off (content
# and style), and four times on stacks of neighbouring slices of synthetic scans (views that
# fit a task). Each is explained in its section below; this cell also builds the data of the
# last two. The book's results are stored and reused; the chapter probes the trained
# networks of two CIFAR-10 runs and of every shapes and scan run, so a stored run whose
# weights are not on this machine (a fresh clone) trains again. The plan says which will
# train, and for how long on this device.

# %%
colour_off = {"color_jitter": 0.0, "grayscale": 0.0}
crop_off = {"crop_scale": None, "flip": 0.0}
variants = {  # label: (result key, the simclr recipe's arguments)
    "crop only": ("01-augment-0", colour_off),
    "colour only": ("01-augment-1", crop_off),
    "crop + colour": ("01-augment-2", {}),
    "supervised recipe": ("01-augment-3", {**crop_off, **colour_off, "flip": 0.5,
                                            "translate": 0.125}),
    "crop + RandAugment": ("01-augment-4", {**colour_off, "randaugment": 1.0}),
}
probed = ("crop only", "crop + colour")  # their trained backbones are probed below
RUNS = {key: S.config("vicreg", recipe="simclr", recipe_args=args)
        for key, args in variants.values()}

# content and style: the shapes recipe with one of its style changes off
shapes_train, shapes_test = data.load("shapes"), data.load("shapes", split="test")
style_variants = {  # label: (result key, the shapes recipe's arguments)
    "new colour + background": ("01-style-0", {}),
    "colour kept (recolour = 0)": ("01-style-1", {"recolour": 0.0}),
    "background kept (background = 0)": ("01-style-2", {"background": 0.0}),
}
STYLE_RUNS = {key: S.config("vicreg", "lab", recipe_args=args)
              for key, args in style_variants.values()}

# views that fit a task: slices of synthetic scans, each packed with its two neighbours
scan_train = data.make_scan_slices(**data.SCAN_SPLITS["train"])
scan_test = data.make_scan_slices(**data.SCAN_SPLITS["test"])
stacks_train, stacks_test = (data.scan_neighbour_stacks(scan_train),
                             data.scan_neighbour_stacks(scan_test))
scan_arms = {  # label: (result key, the scan recipe's arguments)
    "neighbours": ("01-scan-0", {"neighbour": 1.0}),
    "neighbours + recipe": ("01-scan-1", {"neighbour": 1.0, "base": "vicreg"}),
    "one slice, recipe": ("01-scan-2", {"neighbour": 0.0, "base": "vicreg"}),
    "one slice, recipe + blur": ("01-scan-3", {"neighbour": 0.0, "base": "vicreg",
                                               "blur": [1.0, 0.1]}),
}
SCAN_RUNS = {key: S.config("vicreg", "lab", recipe="scan", recipe_args=args)
             for key, args in scan_arms.values()}

(experiments.plan(RUNS, train_data=train_data, test_data=test_data,
                  need_model=tuple(variants[label][0] for label in probed))
 + experiments.plan(STYLE_RUNS, train_data=shapes_train, test_data=shapes_test, need_model=True)
 + experiments.plan(SCAN_RUNS, train_data=stacks_train, test_data=stacks_test, need_model=True))

# %% [markdown]
# ## Two families of augmentations
#
# Image augmentations fall into two families.
#
# - **Geometric** operations move pixels: rotation, (random resized) crop, scaling,
#   horizontal flip, elastic deformation. They change *where* things are.
# - **Colour** (photometric) operations change pixel values in place: brightness, contrast,
#   saturation, hue, noise, blur, solarisation, conversion to grey. They change *how*
#   things look.
#
# Supervised training has used both for a long time. RandAugment (Cubuk et al., 2019), for
# instance, draws a few operations at random from a fixed list that mixes the families
# (rotate, shear, translate; brightness, contrast, colour, solarize, posterize, equalize,
# sharpness, ...) and controls the whole policy with just two numbers: how many operations,
# and one shared magnitude.
#
# `sslkit.augment` implements each operation as a class that draws its own random
# parameters *for every image of a batch* and applies them to the whole batch at once (on
# the GPU when there is one). Below, each row applies one operation, always on, to the
# same eight images; a `ViewPipeline` with mean 0 and std 1 returns the augmented images in
# $[0, 1]$ so we can look at them.

# %%
def show_rows(images, operations, seed=0, width=8):
    """One row per (name, batched augmentation) on the same images."""
    fig, axes = plt.subplots(len(operations) + 1, 1, figsize=(width, 1.05 * (len(operations) + 1)))
    course.show_images(images, ax=axes[0], title="original")
    for ax, (name, op) in zip(axes[1:], operations.items()):
        view = augment.ViewPipeline([op], mean=(0, 0, 0), std=(1, 1, 1))
        course.show_images(view(images, torch.Generator().manual_seed(seed)), ax=ax, title=name)
    plt.tight_layout()


show_rows(x, {
    "rotation up to 45 degrees": augment.RandomRotation(45),
    "random resized crop, area 8-100%": augment.RandomResizedCrop(32, scale=(0.08, 1.0)),
    "scale 0.6-1.4": augment.RandomAffine(scale=(0.6, 1.4)),
    "horizontal flip": augment.HorizontalFlip(p=1.0),
    "elastic deformation": augment.ElasticTransform(alpha=40.0, sigma=3.0),
})

# %%
show_rows(x, {
    "brightness": augment.ColorJitter(brightness=0.8),
    "contrast": augment.ColorJitter(contrast=0.8),
    "saturation": augment.ColorJitter(saturation=0.8),
    "hue": augment.ColorJitter(hue=0.5),
    "Gaussian noise": augment.GaussianNoise(std=0.1, p=1.0),
    "Gaussian blur": augment.GaussianBlur(p=1.0, sigma=(1.0, 2.0)),
    "solarize": augment.Solarize(p=1.0),
    "grayscale": augment.RandomGrayscale(p=1.0),
})

# %% [markdown]
# RandAugment mixes both families. `augment.RandAugment` hands every image to torchvision's
# implementation with its own seed, so each row below shows eight different draws of two
# operations at magnitude 9 (of 31), torchvision's defaults, and then at 18:

# %%
show_rows(x, {"RandAugment, 2 ops, magnitude 9": augment.RandAugment(num_ops=2, magnitude=9),
              "RandAugment, 2 ops, magnitude 18": augment.RandAugment(num_ops=2, magnitude=18)})

# %% [markdown]
# ## Why self-supervised learning needs stronger augmentation
#
# A typical supervised recipe for 32 px images (CIFAR-10) is mild: pad the image by 4
# pixels, take a random 32 px crop, flip half of the images. A random shift by up to 4
# pixels with zero fill is the same operation, so `RandomAffine` with `translate=1/8` and a
# flip reproduce it (only the extreme shifts of ±4 px come up half as often). The SimCLR recipe, in comparison, crops as little as 8% of the area and
# resizes it back, jitters brightness, contrast, saturation and hue with probability 0.8,
# and turns 20% of the views grey:

# %%
supervised = augment.ViewPipeline([augment.RandomAffine(translate=(0.125, 0.125)),
                                   augment.HorizontalFlip(0.5)], mean, std)
simclr = augment.build_recipe("simclr", train_data.image_size, mean, std)
g = torch.Generator().manual_seed(1)
fig, axes = plt.subplots(5, 1, figsize=(8, 5.4))
course.show_images(x, ax=axes[0], title="images")
course.show_images(supervised(x, g), ax=axes[1], title="supervised CIFAR recipe, view 1",
                   mean=mean, std=std)
course.show_images(supervised(x, g), ax=axes[2], title="supervised CIFAR recipe, view 2",
                   mean=mean, std=std)
view_1, view_2 = simclr(x, g)
course.show_images(view_1, ax=axes[3], title="SimCLR recipe, view 1", mean=mean, std=std)
course.show_images(view_2, ax=axes[4], title="SimCLR recipe, view 2", mean=mean, std=std)
plt.tight_layout()

# %% [markdown]
# The recipes of the joint-embedding methods are written per view, following each method's
# official code (BYOL's and VICReg's two views differ: one is always blurred, the other
# sometimes solarised). At 32 px we follow SimCLR's own CIFAR-10 settings: colour strength
# 0.5 and no blur.

# %%
course.show_source(augment.recipes._views)

# %% [markdown]
# Why the difference? A supervised network is told what to keep by the labels; augmentation
# only adds variety, and too much of it destroys information the label needs. A
# self-supervised network is told only "these two views are one image", so the task is as
# hard, and as informative, as the views are different. If the views are nearly identical,
# the network can solve the task with a trivial cue and learn nothing else. SimCLR (Table 1)
# measures it: raising the strength of colour distortion from 1/8 to 1 (plus blur) improves
# the linear evaluation of the self-supervised ResNet-50 on ImageNet by about five points,
# while the same change slightly *lowers* the accuracy of a supervised ResNet-50. AutoAugment,
# a policy searched for supervised training, does worse for SimCLR than plain crops with
# strong colour distortion.
#
# ## Experiment: which pair of augmentations matters
#
# SimCLR's Fig. 5 trains with every single augmentation and every pair of them. No single
# one suffices; the composition of random cropping and colour distortion stands out. (On
# ImageNet every image must be cropped and resized anyway, so the paper applies the tested
# augmentations to one branch only; our images are all 32 px, so we switch whole
# augmentations off in both views.)
#
# We repeat the core of that ablation on CIFAR-10 with the SimCLR recipe, switching
# its parts off through `recipe_args`, and train VICReg (a fast method that cannot collapse
# completely, chapter 10) with each. A fourth run trains with the mild supervised recipe
# above instead, and a fifth replaces the colour jitter and grey by RandAugment, the
# supervised world's automatic policy, to ask whether a generic mix of operations can stand
# in for the colour distortion:
#
# | run | crop + flip | colour jitter + grey | RandAugment (2 ops, magnitude 9) |
# |---|---|---|---|
# | crop only | ✓ | – | – |
# | colour only | – | ✓ | – |
# | crop + colour | ✓ | ✓ | – |
# | supervised recipe | shift ≤ 4 px + flip | – | – |
# | crop + RandAugment | ✓ | – | ✓ |
#
# All runs use the same method, backbone, steps and seed. We judge each by the kNN accuracy
# of its frozen backbone on the class label.

# %%
runs = {label: experiments.run(key, RUNS[key], train_data=train_data, test_data=test_data,
                               need_model=label in probed)
        for label, (key, _) in variants.items()}
for run in runs.values():
    print(run.caption())

# %%
from IPython.display import Markdown
Markdown(course.results_table(runs))

# %% [markdown]
# ## The colour shortcut
#
# Why is the crop alone not enough? Two crops of one image share its colours, and two
# different images rarely do, so the colour histogram of a view already identifies the
# image it came from (SimCLR Fig. 6). We can check this without any network: match each view
# of a batch of 256 images to the view whose colour histogram (4 levels per channel) is
# most similar, and count how often that is its partner.

# %%
def colour_histograms(views, levels=4):
    """(N, levels^3) normalised RGB histograms of [0, 1] images (N, 3, H, W)."""
    q = (views.clamp(0, 1) * levels).long().clamp_max(levels - 1)
    bins = ((q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]).flatten(1)  # N x HW
    counts = torch.zeros(len(views), levels ** 3).scatter_add_(1, bins, torch.ones(bins.shape))
    return counts / counts.sum(dim=1, keepdim=True)


def partner_found_by_colour(recipe_args, n=256, seed=0):
    recipe = augment.build_recipe("simclr", 32, (0, 0, 0), (1, 1, 1), **recipe_args)
    view_a, view_b = recipe(train_data.images[:n], torch.Generator().manual_seed(seed))
    h_a, h_b = colour_histograms(view_a), colour_histograms(view_b)
    overlap = torch.minimum(h_a[:, None], h_b[None]).sum(-1)  # N x N histogram intersection
    return (overlap.argmax(dim=1) == torch.arange(n)).float().mean().item()


by_colour = {label: partner_found_by_colour(variants[label][1])
             for label in ("crop only", "crop + colour")}
for label, acc in by_colour.items():
    print(f"{label:>14}: the colour histogram finds the partner view {acc:.0%} of the time "
          f"(chance {1 / 256:.1%})")

# %% [markdown]
# With crops alone, a colour histogram, which knows nothing about objects, solves the
# matching task most of the time. A network can do the same: learn colour, which is easy,
# and stop there. Colour jitter and grey scale break the cue, and the network has to match
# views by what they still share, the object.
#
# Did our networks take the shortcut? We probe each frozen backbone twice with the same
# weighted kNN: once for the *class*, once for the *hue* of the image's mean colour, cut
# into 8 bins of 45 degrees. The hue is a nuisance: a good representation for
# classification need not encode it. As a reference we also probe an untrained backbone.

# %%
from matplotlib.colors import rgb_to_hsv

HUE_BINS = 8


def hue_bin(d):
    """The hue of each image's mean colour, in HUE_BINS bins: a label made of a nuisance."""
    mean_rgb = d.images.float().mean(dim=(2, 3)) / 255  # N x 3
    hue = torch.from_numpy(rgb_to_hsv(mean_rgb.numpy())[:, 0])  # in [0, 1)
    return (hue * HUE_BINS).long().clamp_max(HUE_BINS - 1)


def probe(backbone, cfg):
    """kNN top-1 of a frozen backbone for the class label and for the binned hue."""
    # the training loop's kNN bank, queries and normalisation: "class" is the run's knn_top1
    seen = random_subset(train_data, cfg["train_size"], seed=0)
    bank = random_subset(seen, cfg["eval_train_size"], seed=1)
    query = random_subset(test_data, cfg["eval_test_size"], seed=2)
    f_bank = evaluate.extract_features(backbone, bank.images, *seen.mean_std())
    f_query = evaluate.extract_features(backbone, query.images, *seen.mean_std())
    return {"class": evaluate.knn_accuracy(f_bank, bank.labels, f_query, query.labels),
            "hue": evaluate.knn_accuracy(f_bank, hue_bin(bank), f_query, hue_bin(query))}


config = runs["crop + colour"].config
torch.manual_seed(0)
untrained = models.build_backbone(config["backbone"], norm=config["norm"],
                                  image_size=train_data.image_size)
probes = {"untrained backbone": probe(untrained, config)}
probes.update({label: probe(runs[label].method.backbone, runs[label].config)
               for label in probed})

hue_chance = torch.bincount(hue_bin(test_data), minlength=HUE_BINS).max().item() / len(test_data)
rows = ["| backbone | kNN class | kNN hue (8 bins) |", "|---|---|---|"]
rows += [f"| {label} | {p['class']:.3f} | {p['hue']:.3f} |" for label, p in probes.items()]
rows += [f"| *majority guess* | 0.100 | {hue_chance:.3f} |"]
Markdown("\n".join(rows))

# %%
labels = list(probes)
fig, ax = plt.subplots(figsize=(6, 3.2))
positions = torch.arange(len(labels)).float()
ax.bar(positions - 0.2, [probes[k]["class"] for k in labels], width=0.4, label="class")
ax.bar(positions + 0.2, [probes[k]["hue"] for k in labels], width=0.4, label="hue (a nuisance)")
ax.axhline(0.1, color="C0", ls=":", lw=1)
ax.axhline(hue_chance, color="C1", ls=":", lw=1)
ax.set_xticks(positions.tolist(), labels, fontsize=8)
ax.set_ylabel("kNN top-1")
ax.set_title("what the frozen backbone encodes (dotted: majority guess)", fontsize=10)
ax.legend(fontsize=8, frameon=False)
plt.tight_layout()

# %% [markdown]
# ## Content and style, measured: the augmentations decide what is kept
#
# On photographs we can only guess which properties of an image a representation keeps. The
# embedded shapes data set knows them: the generator returns every image's ground-truth
# *factors* — the shape (its class), the object's hue, the background's hue and texture,
# position, scale. Von Kügelgen et al. (2021) made the course's first thesis precise: call
# *content* what the two views of an image share, and *style* what the augmentations change
# between them; a joint-embedding method recovers the content and discards the style. So
# the recipe decides: whatever it leaves unchanged between the views is content too, and is
# kept.
#
# The `shapes` recipe is built on that principle: each view gets a **new object colour and
# a new background**, drawn as the generator draws them (an augmentation no photo library
# has: it needs to know where the object is), so the shape is the only thing the views
# share. We train VICReg three times on the shapes, with the full recipe and with one style
# change switched off, and then ask the frozen backbone, with a kNN probe per factor
# (`sslkit.evaluate.factor_probes`), which factors it can still read. These are small runs
# (the course's "lab" size: 150 steps of 64 images, under a minute each), because on this
# data the effect shows at once.

# %%
from sslkit.train.loop import set_up

print(course.LAB_RUN)
lab_runs = {label: experiments.run(key, STYLE_RUNS[key], train_data=shapes_train,
                                   test_data=shapes_test, need_model=True)
            for label, (key, _) in style_variants.items()}
for run in lab_runs.values():
    print(run.caption())

# %%
lab_setup = set_up(STYLE_RUNS["01-style-0"], shapes_train, shapes_test)


def factor_probe(backbone):
    """kNN probe of every factor: 2,048 training images as the bank, 1,000 held-out queries."""
    return evaluate.probe_model(backbone, shapes_train, shapes_test, lab_setup.mean, lab_setup.std)


factor_reports = {"untrained": factor_probe(lab_setup.method.backbone)}
factor_reports.update({label: factor_probe(run.method.backbone)
                       for label, run in lab_runs.items()})
Markdown("kNN probe accuracy of each ground-truth factor (1,000 held-out images):\n\n"
         + evaluate.probes_table(factor_reports))

# %% [markdown]
# Read the table by columns. The untrained network reads colours well (a random convolution
# responds to colour first) and the shape poorly. With the full recipe, training moves the
# representation towards the shape and away from the colours, which the views never shared.
# Switch one style change off and that factor becomes content: the network keeps it — and,
# since it is now the easiest cue that tells the images apart, it can keep it *instead of*
# the shape.

# %% [markdown]
# ## What the runs show
#
# The claims, checked against the numbers above (computed from this run, not written by
# hand; at the `smoke` size the runs are far too short to show anything):

# %%
knn = {label: run.metrics["knn_top1"] for label, run in runs.items()}
hue = {label: p["hue"] for label, p in probes.items()}
# SimCLR's Fig. 5 compares its own augmentations; RandAugment has its own verdict below
others = {k: v for k, v in knn.items() if k not in ("crop + colour", "crop + RandAugment")}
best_other = max(others, key=others.get)
course.verdict("crop + colour is the best of the augmentation sets (SimCLR Fig. 5)",
               knn["crop + colour"] > knn[best_other] + S.knn_gap,
               f"kNN {knn['crop + colour']:.3f} vs next best {best_other!r} "
               f"{knn[best_other]:.3f}")
course.verdict("the mild supervised recipe gives a clearly worse representation",
               knn["supervised recipe"] < knn["crop + colour"] - S.knn_gap,
               f"kNN {knn['supervised recipe']:.3f} vs {knn['crop + colour']:.3f}")
course.verdict("RandAugment, a policy made for supervised training, does not replace the "
               "colour distortion (crop + RandAugment below crop + colour)",
               knn["crop + RandAugment"] < knn["crop + colour"] - S.knn_gap,
               f"kNN {knn['crop + RandAugment']:.3f} vs {knn['crop + colour']:.3f}")
untrained_knn = probes["untrained backbone"]["class"]
not_learning = [label for label, v in knn.items() if not S.learns(v, untrained_knn)]
display(Markdown(
    f"The untrained backbone scores kNN {untrained_knn:.3f} on the same bank and queries. "
    + (f"Runs that do **not** beat it by the noise gap ({S.knn_gap:.3f}): "
       + ", ".join(f"{label} ({knn[label]:.3f})" for label in not_learning)
       + ". With these recipes training left the backbone no better for the class than "
         "random weights; the colour shortcut above is one reason: the views can be "
         "matched by a cue that is not the object."
       if not_learning else "Every run beats it by more than the noise gap.")))
course.verdict("colour alone identifies a view's partner when only crops are used "
               "(most of the time), and colour augmentation removes most of that cue",
               by_colour["crop only"] > 0.5
               and by_colour["crop + colour"] < 0.5 * by_colour["crop only"],
               f"{by_colour['crop only']:.0%} vs {by_colour['crop + colour']:.0%} "
               f"with colour augmentation")
course.verdict("without colour augmentation the backbone keeps the hue (colour shortcut)",
               hue["crop only"] > hue["crop + colour"] + 0.10,
               f"hue kNN {hue['crop only']:.3f} (crop only) vs {hue['crop + colour']:.3f} "
               f"(crop + colour)")
course.verdict("... and it encodes the class worse",
               knn["crop only"] < knn["crop + colour"] - S.knn_gap,
               f"class kNN {knn['crop only']:.3f} vs {knn['crop + colour']:.3f}")

# %%
gap = course.noise_gap(1000)  # the probes' held-out images
acc = {label: {f: r[f]["accuracy"] for f in r} for label, r in factor_reports.items()}
full, kept_colour, kept_bg = ("new colour + background", "colour kept (recolour = 0)",
                              "background kept (background = 0)")
course.verdict("with the shapes recipe the representation learns the shape (class probe "
               "above the untrained network's)",
               acc[full]["class"] > acc["untrained"]["class"] + gap,
               f"class {acc[full]['class']:.2f} vs untrained {acc['untrained']['class']:.2f} "
               f"(noise {gap:.3f} on 1,000 images)")
course.verdict("recolouring the views removes the object's hue; without it the hue is kept",
               acc[kept_colour]["hue"] > acc[full]["hue"] + gap,
               f"object hue {acc[full]['hue']:.2f} with recolouring, "
               f"{acc[kept_colour]['hue']:.2f} without (chance "
               f"{factor_reports['untrained']['hue']['chance']:.2f})")
course.verdict("a background left un-augmented is kept by the representation",
               acc[kept_bg]["bg_hue"] > acc[full]["bg_hue"] + gap,
               f"background hue {acc[full]['bg_hue']:.2f} with new backgrounds, "
               f"{acc[kept_bg]['bg_hue']:.2f} without")
course.verdict("a style factor left as an easy cue costs the shape",
               acc[full]["class"] > max(acc[kept_colour]["class"], acc[kept_bg]["class"]) + gap,
               f"class {acc[full]['class']:.2f} vs {acc[kept_colour]['class']:.2f} (colour "
               f"kept), {acc[kept_bg]['class']:.2f} (background kept)")

# %% [markdown]
# How to read the hue column. Even an untrained network encodes colour well: colour is the
# first thing a random convolution responds to, so the untrained backbone sets the level a
# network reaches by doing nothing about colour. Training can only push the hue towards
# chance if the loss rewards ignoring it, and only colour augmentation does that. It cannot
# remove all of it here: the hue jitter of the CIFAR-size recipe moves the hue by at most
# ±0.1 of the circle (±36 degrees), less than one of our bins, and only in 80% of the views.
# Without crops ("colour only"), the two views show the object at the same place and size,
# so pixel positions and the background are enough to match them; the object is again
# optional.
#
# ## Task-specific views: neighbouring slices of a scan
#
# Augmentations encode what we believe does *not* matter, and for some data there are
# better "second views" than a random distortion. In a 3D scan (CT, MRI), two neighbouring
# slices show the same anatomy, slightly moved and reshaped, which is exactly the kind of
# variation a representation of the tissue should ignore; it is also variation that no
# 2D crop or colour change produces. `sslkit.data.make_volume_slices` builds a synthetic volume (an ellipsoidal "body"
# holding smaller "organs" that each span several slices), and `neighbour_slice_pairs`
# returns slice $i$ and slice $i + \text{offset}$ as two views.

# %%
volume = data.make_volume_slices(depth=48, size=64, seed=0)
print("volume (depth, height, width):", tuple(volume.shape))
slices_a, slices_b = data.neighbour_slice_pairs(volume, offset=1)
far_a, far_b = data.neighbour_slice_pairs(volume, offset=8)
picked = torch.arange(8, 40, 4)
fig, axes = plt.subplots(3, 1, figsize=(8, 3.4))
course.show_images(slices_a[picked], ax=axes[0], title=f"slices {picked.tolist()}")
course.show_images(slices_b[picked], ax=axes[1], title="their neighbours (offset 1)")
course.show_images(far_b[picked], ax=axes[2], title="offset 8")
plt.tight_layout()

# %% [markdown]
# The offset plays the part of the crop scale: it sets how different the two views are. A
# tiny experiment shows how fast the pair drifts apart: the pixel correlation of slice $i$
# with slice $i + k$, averaged over the slices inside the body, against the correlation of
# unrelated slices (random pairs). Every slice shows the same body outline, so even
# unrelated slices correlate; what neighbours share beyond that is the organs.

# %%
def correlation(a, b):
    a, b = a.flatten(1).float(), b.flatten(1).float()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-8)


inside = slice(6, 42)  # slices that cut through the body
offsets = list(range(1, 17))
curve = []
for k in offsets:
    a, b = data.neighbour_slice_pairs(volume[inside], offset=k)
    curve.append(correlation(a, b).mean().item())
g = torch.Generator().manual_seed(0)
i, j = torch.randint(6, 42, (2, 500), generator=g)
unrelated = correlation(volume[i], volume[j]).mean().item()
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(offsets, curve, marker="o", ms=3, label="slice i vs slice i + k")
ax.axhline(unrelated, color="gray", ls="--", lw=1, label="random pairs of slices")
ax.set_xlabel("offset k (slices)")
ax.set_ylabel("pixel correlation")
ax.legend(fontsize=8, frameon=False)
plt.tight_layout()

# %% [markdown]
# Neighbours are strongly but not perfectly alike, and the similarity decays smoothly with
# the offset: a small offset gives an easy positive pair, a large one a hard pair that
# shares only the coarse anatomy. As with crops, the useful range lies in between, and
# colour-type augmentations (intensity, contrast, noise) can still be added on top.
#
# ### Does the neighbouring slice teach the slice thickness?
#
# The article this course follows suggests more: a model that looks for pathologies in a scan
# should know how thick a slice is, and training it to match a slice with its neighbour might
# make it learn the thickness, and how much neighbouring slices overlap. We can measure that.
# `sslkit.data.make_scan_slices` builds scans whose slice thickness is known. Each volume is
# a body holding blobs and long thin vessels turned at random; a slice is the average of the
# volume over a slab 1, 2, 4 or 8 px thick (the *partial-volume effect*), and slices lie
# either one thickness apart (no overlap) or half a thickness apart (they share half their
# slab). The noise is added after the averaging, so a thick slice is no less noisy than a
# thin one (in a real scanner it is: that cue is removed on purpose). What is left is the
# blur along z: a thin slice cuts a vessel as a dot and a blob with a sharp rim, a thick one
# draws the vessel as a streak, softens the rims and stacks more structures on each other.
# The overlap does not change a single slice at all; only a *pair* of slices can show it.
#
# We train on 256 volumes of 8 slices and probe 1,000 other volumes, one middle slice each
# (a volume's slices share its thickness, so one slice per volume keeps the test images
# independent). For training, `scan_neighbour_stacks` packs each slice with its two
# neighbours into the three channels of one image, and the `scan` recipe unpacks them: the
# first view is the slice, the second a neighbour (above or below at random) or, with
# `neighbour=0`, the slice itself; a `base` recipe's augmentations may follow.

# %%
print(scan_train, "|", len(stacks_train), "training stacks")
fig, axes = plt.subplots(len(scan_train.classes), 1, figsize=(8, 4.4))
for t, (ax, name) in enumerate(zip(axes, scan_train.classes)):
    first = int((scan_train.labels == t).nonzero()[0])  # the first volume of this thickness
    course.show_images(scan_train.images[first:first + 8], ax=ax,
                       title=f"thickness {name}, spacing "
                             f"{scan_train.factors['spacing'][first]:g} px")
plt.tight_layout()

# %% [markdown]
# Four VICReg runs at the lab size, on the same stacks: neighbouring slices alone;
# neighbouring slices with VICReg's augmentations on top (crop, flip, brightness and
# contrast jitter, solarize); the ordinary recipe on single slices, once as it is at this
# image size (no blur) and once with the blur of the ImageNet recipe (probability 1.0 and
# 0.1 for the two views). Blur imitates a thicker slab, so it should make the thickness a
# *style* the representation learns to ignore; the views of the other runs all share their
# slice's thickness, which makes it content for every one of them.

# %%
scan_runs = {label: experiments.run(key, SCAN_RUNS[key], train_data=stacks_train,
                                    test_data=stacks_test, need_model=True)
             for label, (key, _) in scan_arms.items()}
for run in scan_runs.values():
    print(run.caption())  # its kNN reads the stacks (three slices), not the probes below

# %% [markdown]
# The probes read frozen backbones, beside the untrained network the runs start from: the
# thickness from one slice, and the overlap from a slice and its next neighbour (the
# features of the first and the absolute difference to the second). Each is probed with the
# course's weighted kNN and with a linear classifier; the bank is every training slice (or
# pair), the queries the 1,000 held-out volumes.

# %%
scan_setup = set_up(SCAN_RUNS["01-scan-0"], stacks_train, stacks_test)


def scan_probe(backbone):
    """kNN and linear probes of the thickness (one slice) and the overlap (a pair)."""
    train_f, test_f = (evaluate.extract_features(backbone, d.images, scan_setup.mean,
                                                 scan_setup.std) for d in (scan_train, scan_test))
    last = scan_train.factors["position"].max()
    first = {"train": scan_train.factors["position"] < last,  # slice k (its neighbour: k + 1)
             "test": scan_test.factors["position"] == 1}      # the middle slice of 3
    sets = {}
    for split, f, d in (("train", train_f, scan_train), ("test", test_f, scan_test)):
        a, b = first[split], first[split].roll(1)  # b: the slice after each of a
        pair = torch.cat([f[a], (f[a] - f[b]).abs()], 1)
        overlap = (d.factors["overlap"][a] > 0).long()
        # the bank holds every training slice; the queries one slice per held-out volume
        thickness = (f, d.labels) if split == "train" else (f[a], d.labels[a])
        sets[split] = {"thickness": thickness, "overlap": (pair, overlap)}
    report = {}
    for name in ("thickness", "overlap"):
        (x_train, y_train), (x_test, y_test) = sets["train"][name], sets["test"][name]
        n = int(y_train.max()) + 1
        chance = torch.bincount(y_test, minlength=n).max().item() / len(y_test)
        knn = evaluate.knn_classify(x_train, y_train, x_test, k=20, temperature=0.07,
                                    num_classes=n).cpu()
        report[f"{name} (kNN)"] = {"accuracy": (knn == y_test).float().mean().item(),
                                   "chance": chance}
        report[f"{name} (linear)"] = {"accuracy": evaluate.linear_probe(
            x_train, y_train, x_test, y_test)["top1"], "chance": chance}
    return report


scan_reports = {"untrained": scan_probe(scan_setup.method.backbone)}
scan_reports.update({label: scan_probe(run.method.backbone) for label, run in scan_runs.items()})
Markdown("Probe accuracy on 1,000 held-out volumes:\n\n" + evaluate.probes_table(scan_reports))

# %%
gap = course.noise_gap(1000)  # the held-out volumes
scan_chance = {name: scan_reports["untrained"][f"{name} (kNN)"]["chance"]
          for name in ("thickness", "overlap")}
thick = {label: r["thickness (kNN)"]["accuracy"] for label, r in scan_reports.items()}
overlap = {label: r["overlap (kNN)"]["accuracy"] for label, r in scan_reports.items()}
ordinary = "one slice, recipe + blur"
course.verdict("training on neighbouring slices teaches the slice thickness (thickness probe "
               "above the untrained network)",
               thick["neighbours"] > thick["untrained"] + gap,
               f"kNN {thick['neighbours']:.2f} vs untrained {thick['untrained']:.2f} "
               f"(chance {scan_chance['thickness']:.2f}, noise {gap:.3f})")
course.verdict("... better than the ordinary recipe on single slices (crop, flip, colour, blur)",
               thick["neighbours"] > thick[ordinary] + gap,
               f"kNN {thick['neighbours']:.2f} vs {thick[ordinary]:.2f}")
course.verdict("blur in the recipe makes the thickness a style: the thickness probe falls",
               thick["one slice, recipe"] > thick[ordinary] + gap,
               f"kNN {thick['one slice, recipe']:.2f} without blur, {thick[ordinary]:.2f} with")
course.verdict("training on neighbouring slices teaches their overlap (pair probe above the "
               "untrained network)",
               overlap["neighbours"] > overlap["untrained"] + gap,
               f"kNN {overlap['neighbours']:.2f} vs untrained {overlap['untrained']:.2f} "
               f"(chance {scan_chance['overlap']:.2f})")
learns = thick["neighbours"] > thick["untrained"] + gap
beats = thick["neighbours"] > thick[ordinary] + gap
display(Markdown(
    f"Training on neighbouring slices alone moves the thickness probe from "
    f"{thick['untrained']:.2f} (untrained) to {thick['neighbours']:.2f}; the recipe on single "
    f"slices reaches {thick['one slice, recipe']:.2f} without blur and {thick[ordinary]:.2f} "
    f"with it, and neighbours with the recipe's augmentations on top "
    f"{thick['neighbours + recipe']:.2f} (chance {scan_chance['thickness']:.2f}). "
    + ("Here the article's idea holds: the neighbour teaches the thickness better than the "
       "ordinary recipe. " if learns and beats else
       "The neighbour teaches some thickness, but no more than the ordinary recipe on single "
       "slices: the claim that neighbour training is the way to learn the thickness does not "
       "reproduce here. " if learns else
       "Training on neighbours does not move the thickness probe beyond the noise. ")
    + ("Adding the recipe to the neighbour pairs helps: neighbours alone can be matched by "
       "what every slice of a volume shares, the body's outline and the scanner's gain (a "
       "shortcut like the colour shortcut above), which crops and brightness jitter take "
       "away. " if thick["neighbours + recipe"] > thick["neighbours"] + gap else "")
    + f"The overlap, read from a pair of slices, is at {overlap['neighbours']:.2f} after "
      f"neighbour training and {overlap['untrained']:.2f} untrained (chance "
      f"{scan_chance['overlap']:.2f}): "
    + ("neighbour training taught some of it." if overlap["neighbours"] > overlap["untrained"] + gap
       else "neighbour training did not teach it.")))

# %% [markdown]
# What should a joint-embedding loss learn from neighbours? VICReg pulls the two views
# together, so it keeps what they *share* and is free to drop what differs between them (the
# content/style view of the section on the shapes). A slice and its neighbour share the
# thickness, but so do two crops of one slice: for every run but the blurred one the
# thickness is content, and this view predicts no advantage for the neighbour. What differs
# between neighbours is how far apart they are, which is what the overlap is made of: an
# invariance to the step from one slice to the next is an invariance to exactly that, so the
# loss has no reason to keep it. A model that must *predict* the next slice (the article's
# wording) would be asked for the difference instead; that is a generative objective, not
# one of the joint-embedding methods of this course.
#
# ## Multi-crop: two global views and several local ones
#
# SwAV (Caron et al., 2020) added cheap extra views: besides two large crops at full
# resolution, several *small* crops of a small part of the image at low resolution. DINO
# (Caron et al., 2021) uses the same scheme: two global crops covering 40-100% of the image
# and, by default, eight local crops covering 5-40%, at 96 instead of 224 px. The teacher
# sees only the global views; the student sees all of them and must match each local view
# to the global ones, which asks it to relate a part to the whole. The `dino` recipe scales
# this to 32 px images (local crops of 16 px); here with six local views:

# %%
multicrop = augment.build_recipe("dino", train_data.image_size, mean, std, n_local=6)
views = multicrop(x[:4], torch.Generator().manual_seed(0))
print("view sizes:", [tuple(v.shape[-2:]) for v in views])
fig, axes = plt.subplots(4, len(views), figsize=(1.0 * len(views), 4.4))
for col, view in enumerate(views):
    for row in range(4):
        picture = (view[row] * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1))
        axes[row, col].imshow(picture.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row, col].axis("off")
    axes[0, col].set_title("global" if col < 2 else "local", fontsize=8)
plt.tight_layout()

# %% [markdown]
# The DINO chapter ({doc}`07_dino`) measures whether more local crops help.
#
# ## Explore the recipe yourself
#
# The sliders below rebuild the SimCLR recipe with your settings (`build_recipe` with
# overrides) and redraw two views of the same eight images. Try a minimum crop scale of 1
# (no cropping), a hue jitter of 0, or solarisation with probability 1. In the static
# book the figure below shows the default recipe; run the notebook to move the sliders.

# %%
import ipywidgets as widgets


def draw_views(crop_min_scale=0.08, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
               jitter_probability=0.8, grayscale=0.2, blur=0.0, solarize=0.0, seed=0):
    recipe = augment.build_recipe(
        "simclr", train_data.image_size, mean, std, crop_scale=(crop_min_scale, 1.0),
        brightness=brightness, contrast=contrast, saturation=saturation, hue=hue,
        color_jitter=jitter_probability, grayscale=grayscale, blur=blur, solarize=solarize)
    view_a, view_b = recipe(x, torch.Generator().manual_seed(seed))
    fig, axes = plt.subplots(3, 1, figsize=(8, 3.4))
    course.show_images(x, ax=axes[0], title="images")
    course.show_images(view_a, ax=axes[1], title="view 1", mean=mean, std=std)
    course.show_images(view_b, ax=axes[2], title="view 2", mean=mean, std=std)
    plt.tight_layout()
    plt.show()


draw_views()  # the default recipe, drawn once for the static page

# %%
slider = lambda low, high, value, step=0.05: widgets.FloatSlider(
    value=value, min=low, max=high, step=step, continuous_update=False)
explorer = widgets.interactive(
    draw_views,
    crop_min_scale=slider(0.02, 1.0, 0.08, 0.02), brightness=slider(0, 1, 0.4),
    contrast=slider(0, 1, 0.4), saturation=slider(0, 1, 0.4), hue=slider(0, 0.5, 0.1),
    jitter_probability=slider(0, 1, 0.8), grayscale=slider(0, 1, 0.2),
    blur=slider(0, 1, 0.0), solarize=slider(0, 1, 0.0),
    seed=widgets.IntSlider(value=0, min=0, max=20, continuous_update=False))
explorer

# %% [markdown]
# How long the runs behind this chapter's verdicts trained, and how to make them again:

# %%
display(Markdown(course.run_lengths(
    {r.key: r for r in [*runs.values(), *lab_runs.values(), *scan_runs.values()]},
    "01_augmentations")))

# %% [markdown]
# ## Which claims reproduced
#
# Every claim this chapter checked, in one table (computed from the verdicts above):

# %%
course.verdict_summary(S)

# %% [markdown]
# ## Summary
#
# - Augmentations come in two families: geometric (crop, scale, rotation, flip, elastic)
#   and colour (brightness, contrast, saturation, hue, grey, noise, blur, solarize).
# - A joint-embedding method learns to ignore exactly what its augmentations change, so its
#   augmentations must be much stronger than a supervised recipe's: the views must differ
#   enough that matching them requires understanding the content.
# - Crop and colour distortion together are the pair that matters (SimCLR). Crops alone
#   leave a colour shortcut: views are matched by their colour histogram, and the
#   representation keeps the hue rather than the object.
# - The views can be designed for the task: neighbouring slices of a scan, or several
#   local crops beside two global ones (multi-crop). Whether a designed view teaches what it
#   was designed for is an experiment, not a given: the scan verdicts above say whether
#   neighbouring slices taught the slice thickness better than the ordinary recipe here.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-augment-grayscale
# Write `my_grayscale(x)` for a float batch `x` of shape `(N, 3, H, W)` in $[0, 1]$: the
# luma $0.299 R + 0.587 G + 0.114 B$ (ITU-R 601-2, as torchvision and PIL), repeated on the
# three channels. Running the cell below checks it with
# `sslkit.checkers.check_grayscale(my_grayscale)`. Why keep three channels rather than one?
# ```

# %%
from sslkit import checkers


def my_grayscale(x):
    """(N, 3, H, W) in [0, 1] -> (N, 3, H, W): the luma on each of the three channels."""
    raise NotImplementedError("your code here")


checkers.check_grayscale(my_grayscale)

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
def my_grayscale(x):
    gray = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]  # N x H x W
    return gray.unsqueeze(1).expand(-1, 3, -1, -1)  # N x 3 x H x W


assert checkers.check_grayscale(my_grayscale)
# Three channels: the network's first layer expects three, and a grey view must go through
# the same network as a colour view of the same image.

# %% [markdown]
# ```{exercise}
# :label: ex-augment-background
# The embedded shapes data stores its nuisances as ground truth, among them the background
# texture (`data.load("shapes").factors["background"]`, five kinds). Adapt `probe` to
# measure how well the probed backbones above encode it on shapes images. Which
# augmentation in our recipes changes the background texture, and what does your probe say?
# ```

# %%
# your code here: a version of probe() whose labels are factors["background"] of shapes images

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
shapes_train, shapes_test = data.load("shapes"), data.load("shapes", split="test")


def probe_background(backbone, n_bank=2000, n_query=1000):
    """kNN top-1 of a frozen backbone for the background texture of shapes images."""
    bank = random_subset(shapes_train, n_bank, seed=1)
    query = random_subset(shapes_test, n_query, seed=2)
    mean_std = bank.mean_std()
    f_bank = evaluate.extract_features(backbone, bank.images, *mean_std)
    f_query = evaluate.extract_features(backbone, query.images, *mean_std)
    return evaluate.knn_accuracy(f_bank, bank.factors["background"],
                                 f_query, query.factors["background"])


backgrounds = shapes_test.factors["background"]
majority = torch.bincount(backgrounds).max().item() / len(backgrounds)
rows = ["| backbone | kNN background (5 kinds) |", "|---|---|",
        f"| untrained backbone | {probe_background(untrained):.3f} |"]
rows += [f"| {label} | {probe_background(runs[label].method.backbone):.3f} |"
         for label in probed]
rows += [f"| *majority guess* | {majority:.3f} |"]
display(Markdown("\n".join(rows)))
# No augmentation in our recipes replaces the texture: a crop keeps a piece of it (at
# another scale), colour jitter changes its colour but not its pattern. So no run is forced
# to discard it. How to read the table: a backbone well above the majority guess still
# encodes the background; compare the trained backbones with the untrained one, which
# shows how much of it a random network already keeps. (At the cpu profile the backbones
# were trained on CIFAR-10, so this also asks how far their features carry to shapes
# images.) Removing the texture would take an augmentation that replaces backgrounds, as
# the augmented autoencoder's paper (chapter 2) does by rendering its objects on random
# background images.

# %% [markdown]
# ```{exercise}
# :label: ex-augment-asymmetric
# Print `augment.recipe_views("byol", 32)` and `augment.recipe_views("byol", 224)`. Which
# parameters differ between the two views, and which change with the image size? Why might
# one want the two views to be augmented differently?
# ```

# %%
# your code here

# %% tags=["hide-input"] jupyter={"source_hidden": true} cellView="form"
#@title Solution (hidden; show the code to read it)
from dataclasses import asdict

views = {size: [asdict(v) for v in augment.recipe_views("byol", size)] for size in (32, 224)}
for size, (first, second) in views.items():
    print(f"{size} px, view 1 vs view 2:",
          {k: (first[k], second[k]) for k in first if first[k] != second[k]})
for view in range(2):
    print(f"view {view + 1}, 32 px vs 224 px:",
          {k: (views[32][view][k], views[224][view][k])
           for k in views[32][view] if views[32][view][k] != views[224][view][k]})
# At 224 px the views differ in blur and solarisation; at 32 px blur is off in both (the
# CIFAR-size adaptation), so only solarisation differs. Asymmetric views make the pair
# harder in a controlled way: one view is always smooth, the other occasionally has
# inverted bright pixels, so the network cannot rely on fine texture or exact intensities
# to match them, while each single view stays recognisable.

# %% [markdown]
# ## References
#
# - T. Chen, S. Kornblith, M. Norouzi, G. Hinton. *A Simple Framework for Contrastive
#   Learning of Visual Representations.* ICML 2020. arXiv:2002.05709. Official code:
#   `google-research/simclr`.
# - E. D. Cubuk, B. Zoph, J. Shlens, Q. V. Le. *RandAugment: Practical automated data
#   augmentation with a reduced search space.* NeurIPS 2020. arXiv:1909.13719.
# - M. Caron et al. *Unsupervised Learning of Visual Features by Contrasting Cluster
#   Assignments* (SwAV, multi-crop). NeurIPS 2020. arXiv:2006.09882.
# - M. Caron et al. *Emerging Properties in Self-Supervised Vision Transformers* (DINO).
#   ICCV 2021. arXiv:2104.14294.
# - A. Bardes, J. Ponce, Y. LeCun. *VICReg.* ICLR 2022. arXiv:2105.04906.
