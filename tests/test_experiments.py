"""Run-or-load of the book's experiments, the setup cell's logic, the notebook sources."""

import re
from pathlib import Path

import pytest

from sslkit import course, experiments
from sslkit.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny_cpu(**kw):
    base = dict(method="vicreg", profile="cpu", steps=2, batch_size=16, train_size=64,
                eval_train_size=64, eval_test_size=32, log_every=1, checkpoint_every=0,
                method_args={"expander": [32, 32]})
    base.update(kw)
    return TrainConfig(**base)


def test_stored_result_is_reused_only_for_the_same_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    first = experiments.run("k", tiny_cpu(), progress=False)
    assert not first.cached and (tmp_path / "cpu" / "k.json").exists()
    again = experiments.run("k", tiny_cpu(), progress=False)
    assert again.cached and again.metrics == first.metrics and again.history == first.history
    changed = experiments.run("k", tiny_cpu(steps=3), progress=False)
    assert not changed.cached and changed.history[-1]["step"] == 3
    monkeypatch.setenv("SSLKIT_RERUN", "1")
    assert not experiments.run("k", tiny_cpu(steps=3), progress=False).cached


def test_smoke_results_never_land_in_the_results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    exp = experiments.run("s", tiny_cpu(profile="smoke"), progress=False)
    assert not exp.cached and not any(tmp_path.iterdir())
    assert "profile smoke" in exp.caption()


def test_profile_switch(monkeypatch):
    monkeypatch.setenv("SSLKIT_PROFILE", "smoke")
    assert experiments.current_profile() == "smoke"
    monkeypatch.setenv("SSLKIT_PROFILE", "laptop")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        experiments.current_profile()


def test_repository_url_is_set_in_one_place():
    config = (ROOT / "_config.yml").read_text()
    assert re.search(r"^\s*url:\s*(\S+)", config, re.M).group(1) == course.REPOSITORY


def test_every_notebook_matches_its_source():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "notebooks" / "build.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_chapter_in_the_toc_exists():
    toc = (ROOT / "_toc.yml").read_text()
    for name in re.findall(r"file:\s*(\S+)", toc):
        candidates = [ROOT / f"{name}{ext}" for ext in (".md", ".ipynb")]
        assert any(c.exists() for c in candidates), f"{name} is in _toc.yml but missing"


def test_random_init_knn_is_the_kNN_of_the_runs_starting_weights():
    from sslkit.data import load
    from sslkit.train import TrainConfig

    train_data, test_data = load("shapes", n=128, image_size=16), load("shapes", split="test",
                                                                      n=64, image_size=16)
    cfg = TrainConfig(method="vicreg", profile="smoke", train_size=96, eval_train_size=64,
                      eval_test_size=48)
    first = course.random_init_knn(cfg, train_data, test_data)
    assert 0.0 <= first <= 1.0
    assert course.random_init_knn(cfg, train_data, test_data) == first  # same seed, same weights
