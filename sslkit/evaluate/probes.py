"""Content/style probes: which ground-truth factors of the synthetic data a frozen
representation still carries.

Self-supervised learning with augmentations keeps what the views share (content) and can
drop what the augmentations change (style): von Kuegelgen et al. 2021, "Self-supervised
learning with data augmentations provably isolates content from style", arXiv 2106.04619.
On the shapes data every factor is known, so this can be measured: for each factor, a
weighted kNN probe (the course's kNN protocol, `knn_classify`, k=20, T=0.07) predicts the
factor of held-out images from their features, and the accuracy is reported beside its
chance level.

Continuous factors are binned into classes, so every factor is read the same way and every
chance level is the frequency of the most common class:

    class       the label (the shape): content.
    hue         foreground hue, circular, in `bins` equal arcs of [0, 1).
    bg_hue      background hue, likewise.
    position    the object's centre, a `grid` x `grid` cell of the image (x, y quantiles).
    scale       `bins` quantile bins of the object's size.
    rotation    the angle within one period of the shape's rotational symmetry (a square
                turned by 90 degrees is the same image), in `bins` arcs; shapes with every
                symmetry (circle, ring) are left out of this probe.
    background  the background texture kind (categorical).

kNN rather than a linear probe: no training, the protocol the course's accuracies use, and
it reads the factor only where it shapes the neighbourhoods of the representation, which is
what "the representation keeps it" means for retrieval. `probe="linear"` trains a linear
classifier instead (`linear_probe`), which also finds factors carried along a direction
that does not dominate the distances.
"""

from __future__ import annotations

import math

import torch

from sslkit.evaluate.knn import knn_classify
from sslkit.evaluate.linear import linear_probe

FACTORS = ("class", "hue", "bg_hue", "position", "scale", "rotation", "background")


def _circular_bins(values: torch.Tensor, bins: int) -> torch.Tensor:
    return (values.float() % 1.0 * bins).long().clamp_(0, bins - 1)


def _quantile_bins(values: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    return torch.bucketize(values.float(), edges)


def _edges(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Inner quantile edges of the training values: bins of equal size."""
    return torch.quantile(values.float(), torch.linspace(0, 1, bins + 1)[1:-1])


def factor_targets(train_factors: dict[str, torch.Tensor], train_labels: torch.Tensor,
                   test_factors: dict[str, torch.Tensor], test_labels: torch.Tensor,
                   classes: list[str], *, bins: int = 8, grid: int = 3,
                   ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per probed factor: (train mask, train targets, test mask, test targets), targets int64.

    The masks select the images the factor is defined for (rotation: shapes with a finite
    symmetry order). Quantile edges come from the training split only.
    """
    from sslkit.data.shapes import ROTATION_ORDER

    splits = ((train_factors, train_labels), (test_factors, test_labels))

    def both(target) -> tuple[torch.Tensor, ...]:
        """(mask, target) of the train split, then of the test split; mask: every image."""
        out = []
        for factors, labels in splits:
            values = target(factors, labels)
            out += [torch.ones(len(values), dtype=torch.bool), values]
        return tuple(out)

    have = lambda *keys: all(k in f for f, _ in splits for k in keys)  # noqa: E731
    out = {"class": both(lambda f, labels: labels.long())}
    for key in ("hue", "bg_hue"):
        if have(key):
            out[key] = both(lambda f, labels, key=key: _circular_bins(f[key], bins))
    if have("x", "y"):
        ex, ey = _edges(train_factors["x"], grid), _edges(train_factors["y"], grid)
        out["position"] = both(lambda f, labels: _quantile_bins(f["y"], ey) * grid
                               + _quantile_bins(f["x"], ex))
    if have("scale"):
        edges = _edges(train_factors["scale"], bins)
        out["scale"] = both(lambda f, labels: _quantile_bins(f["scale"], edges))
    if have("rotation") and bool(train_factors["rotation"].float().std() > 0):
        order = torch.tensor([ROTATION_ORDER.get(c, 1) for c in classes])
        parts = []
        for f, labels in splits:
            k = order[labels.long()]
            # the angle as a fraction of the symmetry period 2 pi / k; k = 0: every angle
            fraction = f["rotation"].float() * k.clamp_min(1) / (2 * math.pi)
            parts += [k > 0, _circular_bins(fraction, bins)]
        if parts[0].any():
            out["rotation"] = tuple(parts)
    if have("background"):
        out["background"] = both(lambda f, labels: f["background"].long())
    return out


def factor_probes(train_features: torch.Tensor, train_data, test_features: torch.Tensor,
                  test_data, *, probe: str = "knn", k: int = 20, temperature: float = 0.07,
                  bins: int = 8, grid: int = 3) -> dict[str, dict[str, float]]:
    """How well each ground-truth factor can be read from frozen features.

    train_features (N, D), test_features (M, D): the representation of `train_data` and
    `test_data` (ImageData of the shapes set, whose `factors` and labels are the targets).
    probe: "knn" (weighted kNN, k and temperature as the course's evaluation) or "linear".
    bins: classes per continuous factor (hue, bg_hue, scale, rotation); grid: position cells
    per side.
    Returns {factor: {"accuracy", "chance", "classes"}} for every factor of FACTORS the data
    has; "chance" is the frequency of the test split's most common class (what always
    guessing it scores). Factors the data lacks (real data has none) are left out.
    """
    if probe not in ("knn", "linear"):
        raise ValueError(f'probe must be "knn" or "linear"; got {probe!r}')
    if len(train_features) != len(train_data) or len(test_features) != len(test_data):
        raise ValueError(f"features and data differ in length: {len(train_features)} vs "
                         f"{len(train_data)} (train), {len(test_features)} vs {len(test_data)} "
                         f"(test); extract the features of exactly these images")
    if not train_data.factors:
        raise ValueError(f"{train_data.name!r} has no ground-truth factors; factor probes "
                         f"need the synthetic shapes data (sslkit.data.load('shapes'))")
    targets = factor_targets(train_data.factors, train_data.labels, test_data.factors,
                             test_data.labels, train_data.classes, bins=bins, grid=grid)
    report = {}
    for name in FACTORS:
        if name not in targets:
            continue
        keep_train, y_train, keep_test, y_test = targets[name]
        f_train, f_test = train_features[keep_train], test_features[keep_test]
        y_train, y_test = y_train[keep_train], y_test[keep_test]
        n_classes = int(max(y_train.max(), y_test.max())) + 1
        if probe == "knn":
            pred = knn_classify(f_train, y_train, f_test, k=k, temperature=temperature,
                                num_classes=n_classes).cpu()
            accuracy = (pred == y_test).float().mean().item()
        else:
            accuracy = linear_probe(f_train, y_train, f_test, y_test)["top1"]
        chance = torch.bincount(y_test, minlength=n_classes).max().item() / len(y_test)
        report[name] = {"accuracy": accuracy, "chance": chance, "classes": n_classes}
    return report


def probe_model(model: torch.nn.Module, train_data, test_data, mean, std, *,
                n_train: int = 2048, n_test: int = 1000, **options) -> dict[str, dict[str, float]]:
    """`factor_probes` of a frozen model's outputs: a backbone, or a backbone with its head
    (`nn.Sequential(backbone, projector)`) to probe the embedding the loss sees.

    The probe's bank is `n_train` images of `train_data` and its queries `n_test` held-out
    images of `test_data` (fixed random draws, the evaluation's seeds 1 and 2); mean, std
    normalise them as in training. options: factor_probes' (probe, k, bins, ...).
    """
    from sslkit.evaluate.features import extract_features
    from sslkit.train.loop import random_subset

    bank, queries = random_subset(train_data, n_train, seed=1), random_subset(test_data, n_test, seed=2)
    features = [extract_features(model, d.images, mean, std) for d in (bank, queries)]
    return factor_probes(features[0], bank, features[1], queries, **options)


def probes_table(reports: dict[str, dict[str, dict[str, float]]]) -> str:
    """Several factor_probes reports ({column: report}) as one Markdown table: a row per
    factor, its chance level, then each column's accuracy."""
    first = next(iter(reports.values()))
    rows = ["| factor | chance | " + " | ".join(reports) + " |", "|---" * (len(reports) + 2) + "|"]
    rows += [f"| {name} | {first[name]['chance']:.2f} | "
             + " | ".join(f"{r[name]['accuracy']:.2f}" for r in reports.values()) + " |"
             for name in first]
    return "\n".join(rows)


def format_probes(report: dict[str, dict[str, float]]) -> str:
    """The report as a small text table: factor, accuracy, chance."""
    lines = [f"{'factor':<11}{'accuracy':>9}{'chance':>8}"]
    lines += [f"{name:<11}{r['accuracy']:>9.3f}{r['chance']:>8.3f}" for name, r in report.items()]
    return "\n".join(lines)
