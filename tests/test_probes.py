"""sslkit.evaluate.factor_probes: which ground-truth factors a representation keeps."""

import pytest
import torch

from sslkit.data import make_shapes
from sslkit.evaluate import factor_probes, probe_model, probes_table
from sslkit.evaluate.probes import FACTORS, format_probes


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(600, seed=0), make_shapes(300, seed=1)


def _onehot(values: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(values.long(), n).float()


def test_a_representation_of_one_factor_reads_that_factor_and_not_the_others(shapes):
    train, test = shapes
    # features that ARE the class (content only): class at 1, background near chance
    report = factor_probes(_onehot(train.labels, 10), train, _onehot(test.labels, 10), test)
    assert set(report) == set(FACTORS)
    assert report["class"]["accuracy"] == 1.0 and report["class"]["chance"] == pytest.approx(0.1, abs=0.02)
    assert report["background"]["accuracy"] < report["background"]["chance"] + 0.1
    # features that are the background kind and the hue (style only): class near chance
    style = lambda d: torch.cat([_onehot(d.factors["background"], 5),  # noqa: E731
                                 torch.stack([torch.cos(2 * torch.pi * d.factors["hue"]),
                                              torch.sin(2 * torch.pi * d.factors["hue"])], 1)], 1)
    report = factor_probes(style(train), train, style(test), test)
    assert report["background"]["accuracy"] == 1.0 and report["hue"]["accuracy"] > 0.8
    assert report["class"]["accuracy"] < 0.25


def test_chance_is_the_most_common_class_and_binned_factors_are_balanced(shapes):
    train, test = shapes
    report = factor_probes(torch.zeros(len(train), 4) + 1, train, torch.zeros(len(test), 4) + 1, test)
    for name, r in report.items():
        assert 0 < r["chance"] < 1 and r["classes"] >= 2, name
    assert report["position"]["classes"] == 9 and report["hue"]["classes"] == 8
    assert report["scale"]["chance"] < 0.2  # quantile bins: about 1/8 each
    assert "factor" in format_probes(report) and "rotation" in format_probes(report)


def test_rotation_is_read_within_the_symmetry_period(shapes):
    train, test = shapes
    # a square turned by 90 degrees is the same image: the probe's target ignores the turn
    from sslkit.evaluate.probes import factor_targets
    targets = factor_targets(train.factors, train.labels, test.factors, test.labels, train.classes)
    keep = targets["rotation"][0]
    kept_classes = set(train.labels[keep].tolist())
    assert train.classes.index("circle") not in kept_classes and train.classes.index("ring") not in kept_classes
    assert train.classes.index("square") in kept_classes


def test_linear_probe_and_bad_input(shapes):
    train, test = shapes
    report = factor_probes(_onehot(train.labels, 10), train, _onehot(test.labels, 10), test, probe="linear")
    assert report["class"]["accuracy"] > 0.9
    with pytest.raises(ValueError, match="knn"):
        factor_probes(torch.zeros(len(train), 2), train, torch.zeros(len(test), 2), test, probe="svm")
    with pytest.raises(ValueError, match="differ in length"):
        factor_probes(torch.zeros(5, 2), train, torch.zeros(len(test), 2), test)
    unfactored = train.subset(slice(0, 10))
    unfactored.factors = {}
    with pytest.raises(ValueError, match="no ground-truth factors"):
        factor_probes(torch.zeros(10, 2), unfactored, torch.zeros(len(test), 2), test)


def test_probe_model_probes_a_frozen_model_on_held_out_images_and_tables_reports(shapes):
    """probe_model = extract features of fixed draws + factor_probes; probes_table lays
    several reports side by side with the chance level once."""
    shapes, test = shapes
    mean, std = shapes.mean_std()
    pixels = torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(192, 192))
    torch.nn.init.eye_(pixels[2].weight)  # the (pooled) raw image as the representation
    torch.nn.init.zeros_(pixels[2].bias)
    report = probe_model(pixels, shapes, test, mean, std, n_train=256, n_test=200)
    assert set(report) >= {"class", "hue", "background"}
    assert report["hue"]["accuracy"] > report["hue"]["chance"] + 0.2  # pixels carry the colour
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4))
    torch.nn.init.zeros_(constant[1].weight)
    torch.nn.init.ones_(constant[1].bias)  # every image -> the same vector
    collapsed = probe_model(constant, shapes, test, mean, std, n_train=256, n_test=200)
    assert collapsed["hue"]["accuracy"] < report["hue"]["accuracy"]
    table = probes_table({"pixels": report, "collapsed": collapsed})
    lines = table.splitlines()
    assert lines[0] == "| factor | chance | pixels | collapsed |" and len(lines) == 2 + len(report)
    assert f"{report['hue']['accuracy']:.2f}" in next(l for l in lines if l.startswith("| hue"))
