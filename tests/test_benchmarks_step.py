"""benchmarks/step_overhead.py and overlap_augment.py: what they time is what a step does
(issue 15). Timings themselves are printed by the benchmarks, never asserted."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import overlap_augment  # noqa: E402
import step_overhead  # noqa: E402

from sslkit import data as sdata  # noqa: E402


def test_step_overhead_records_the_backbone_passes_and_splits_the_excess():
    data = sdata.load("shapes", split="train")
    r = step_overhead.measure("byol", "smoke", data, torch.device("cpu"), repeats=1)
    # BYOL: two views through the online backbone, the same two through the EMA target's
    # (whose weights take no gradient, so its replay builds no graph either)
    assert len(r["backbone_passes"]) == 4
    assert r["augment_ms"] > 0 and r["optimizer_ms"] > 0
    parts = r["backbone_ms"] + r["augment_ms"] + r["optimizer_ms"] + r["heads_loss_ms"]
    assert abs(parts - r["step_ms"]) < 1e-6 * r["step_ms"]
    assert 0 < r["head_parameter_share"] < 1  # BYOL's projector and predictor have weights


def test_overlapped_augmentation_trains_the_same_weights():
    """Augmenting step i + 1 in a second thread changes when views are made, not which."""
    data = sdata.load("shapes", split="train")
    runs = [overlap_augment.make_run("vicreg", "smoke", data, torch.device("cpu"))
            for _ in range(2)]
    overlap_augment.block(runs[0], 0, 3, overlap=False)
    overlap_augment.block(runs[1], 0, 3, overlap=True)
    for a, b in zip(runs[0].method.parameters(), runs[1].method.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
