"""Run-or-load of the book's experiments, the setup cell's logic, the notebook sources."""

import re
from pathlib import Path

import pytest
import torch

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


def test_a_result_stored_before_a_config_field_existed_counts_as_that_fields_default(
        tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    experiments.run("k", tiny_cpu(view_size=32), progress=False)
    stored = tmp_path / "cpu" / "k.json"
    saved = json.loads(stored.read_text())
    del saved["config"]["backbone_args"]  # a run from before TrainConfig had the field
    stored.write_text(json.dumps(saved))
    checkpoint = experiments.runs_dir("cpu") / "k" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=False)
    del state["config"]["backbone_args"]  # its final checkpoint, too
    torch.save(state, checkpoint)
    again = experiments.run("k", tiny_cpu(view_size=32), need_model=True, progress=False)
    assert again.cached and again.method is not None  # reloaded, not refused or retrained
    assert not experiments.run("k", tiny_cpu(view_size=32, backbone_args={"widths": [8, 8, 8, 8]}),
                               progress=False).cached


def test_the_trained_network_is_reloaded_from_the_final_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    first = experiments.run("m", tiny_cpu(), need_model=True, progress=False)
    assert (tmp_path / "runs" / "cpu" / "m" / "checkpoint.pt").exists()
    again = experiments.run("m", tiny_cpu(), need_model=True, progress=False)
    assert again.cached and again.metrics == first.metrics  # no step trained again
    for a, b in zip(first.method.state_dict().values(), again.method.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    # without its checkpoint (a fresh clone has results, not weights) the run trains again
    import shutil
    shutil.rmtree(tmp_path / "runs")
    assert not experiments.run("m", tiny_cpu(), need_model=True, progress=False).cached


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    from sslkit.train.checkpoint import load_checkpoint

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    experiments.run("r", tiny_cpu(steps=2), progress=False)  # leaves a finished checkpoint
    ckpt = tmp_path / "runs" / "cpu" / "r" / "checkpoint.pt"
    # a longer run of another config must not resume from it: that folder starts over
    longer = experiments.run("r", tiny_cpu(steps=4, checkpoint_every=2), progress=False)
    assert not longer.cached and len(longer.history) == 4
    state = load_checkpoint(ckpt)
    assert state["step"] == 4 and state["config"]["steps"] == 4


def test_a_stale_checkpoint_does_not_block_reloading_a_stored_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    experiments.run("s", tiny_cpu(steps=3), progress=False)
    experiments.run("other", tiny_cpu(steps=2), progress=False)
    # the stored result of "s" is kept, but its folder now holds another config's checkpoint
    import shutil
    shutil.rmtree(tmp_path / "runs" / "cpu" / "s")
    shutil.copytree(tmp_path / "runs" / "cpu" / "other", tmp_path / "runs" / "cpu" / "s")
    exp = experiments.run("s", tiny_cpu(steps=3), need_model=True, progress=False)
    assert exp.method is not None and exp.history[-1]["step"] == 3


def test_an_identical_run_under_another_key_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    first = experiments.run("chapter-10", tiny_cpu(), progress=False)
    again = experiments.run("chapter-12", tiny_cpu(), progress=False)
    assert again.cached and again.metrics == first.metrics and "chapter-10" in again.key
    assert not experiments.run("chapter-12b", tiny_cpu(seed=1), progress=False).cached


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
    import dataclasses

    from sslkit.data import load
    from sslkit.train import TrainConfig, train

    train_data, test_data = load("shapes", n=128, image_size=16), load("shapes", split="test",
                                                                      n=64, image_size=16)
    cfg = TrainConfig(method="vicreg", profile="smoke", train_size=96, eval_train_size=64,
                      eval_test_size=48)
    first = course.random_init_knn(cfg, train_data, test_data)
    assert 0.0 <= first <= 1.0
    assert course.random_init_knn(cfg, train_data, test_data) == first  # same seed, same weights
    # a run that cannot move its backbone (no normalisation statistics, learning rate 0)
    # ends with exactly the kNN of its starting weights
    frozen = dataclasses.replace(cfg, norm="none", lr=0.0, weight_decay=0.0, steps=1)
    run = train(frozen, train_data=train_data, test_data=test_data, progress=False)
    assert run.metrics["knn_top1"] == course.random_init_knn(frozen, train_data, test_data)


def test_chapters_train_on_cifar10_at_real_profiles_and_shapes_at_smoke(tmp_path, monkeypatch):
    from PIL import Image

    for split in ("train", "test"):
        for c in range(10):
            folder = tmp_path / "cifar10" / split / f"class{c}"
            folder.mkdir(parents=True)
            Image.new("RGB", (32, 32), (25 * c, 0, 0)).save(folder / "0.png")
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path))
    monkeypatch.setenv("SSLKIT_CACHE", str(tmp_path / "cache"))
    cpu = course.Setup(profile="cpu", device=torch.device("cpu"), seed=0)
    train, test = course.load_data(cpu)
    assert train.name == "cifar10" and len(train) == 10 and len(test) == 10
    smoke = course.Setup(profile="smoke", device=torch.device("cpu"), seed=0)
    assert course.load_data(smoke)[0].name == "shapes"


def test_chapter_configs_use_the_chapter_run_size():
    cpu = course.Setup(profile="cpu", device=torch.device("cpu"), seed=0)
    cfg = cpu.config("byol", batch_size=64)
    assert cfg.profile == "cpu" and cfg.steps == course.CHAPTER_RUN["cpu"]["steps"]
    assert cfg.batch_size == 64  # the caller's fields win
    assert cpu.config("byol", steps=10).steps == 10
    # chapters train on whole 32 px views, not the cpu profile's 24 px budget default
    assert cpu.config("byol").resolved().view_size == 32


def test_verdict_summary_lists_every_claim_with_its_outcome(capsys):
    course._VERDICTS.clear()
    course.verdict("a holds", True, "x = 1")
    course.verdict("b holds", False, "y = 2")
    text = course.verdict_summary().data
    assert "1 of 2 claims reproduced" in text
    assert "| ✓ | a holds | x = 1 |" in text and "| ✗ | b holds | y = 2 |" in text
    assert "[NOT REPRODUCED] b holds" in capsys.readouterr().out


def test_long_runs_are_ten_times_the_quick_ones_and_every_stored_run_uses_the_whole_sets():
    cpu = course.Setup(profile="cpu", device=torch.device("cpu"), seed=0)
    quick, long = cpu.config("byol").resolved(), cpu.config("byol", "long").resolved()
    assert long.steps == 10 * quick.steps and long.eval_every > 0
    for cfg in (quick, long):  # kNN on all 50,000 training and 10,000 test images
        assert cfg.eval_train_size >= 50_000 and cfg.eval_test_size >= 10_000
    assert cpu.knn_gap == pytest.approx(2 * (0.5 / 10_000) ** 0.5)
    with pytest.raises(ValueError, match="quick, long"):
        cpu.config("byol", "longer")


def test_the_courses_words_have_one_meaning_each():
    cpu = course.Setup(profile="cpu", device=torch.device("cpu"), seed=0)
    gap = cpu.knn_gap
    assert cpu.learns(0.40 + 1.1 * gap, 0.40) and not cpu.learns(0.40 + 0.9 * gap, 0.40)
    assert cpu.better(0.5, 0.5 - 1.1 * gap) and not cpu.better(0.5, 0.5 - 0.9 * gap)
    assert cpu.no_difference(0.5, 0.5 + 0.9 * gap) and not cpu.no_difference(0.5, 0.5 + 1.1 * gap)
    d = 256  # healthy spread: 1/sqrt(d) = 0.0625
    assert not course.collapsed(0.06, d) and course.collapsed(0.2 / 16 - 1e-4, d)
    # a cloud shrinking to the origin keeps its directions: only the raw spread shows it
    assert course.collapsed(0.06, d, mean_std=0.05) and not course.collapsed(0.06, d, mean_std=0.8)


def test_a_run_records_the_data_it_trained_on_and_its_weights_load_without_training(
        tmp_path, monkeypatch):
    from sslkit import data

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    shapes = data.load("shapes", split="test").subset(torch.arange(160))
    cfg = tiny_cpu(data="cifar10")  # what the config says is replaced by what ran
    first = experiments.run("d", cfg, train_data=shapes, test_data=shapes, need_model=True,
                            progress=False)
    assert first.config["data"] == shapes.name == first.data
    method = experiments.load_trained(cfg, tmp_path / "runs" / "cpu" / "d" / "checkpoint.pt",
                                      shapes)
    for (name, a), b in zip(first.method.state_dict().items(), method.state_dict().values()):
        assert torch.equal(a.cpu(), b), name
    again = experiments.run("d2", cfg, train_data=shapes, test_data=shapes, need_model=True,
                            progress=False)  # a twin under another key: loaded, not trained
    assert again.cached and again.key == "d2 (= d)" and again.method is not None


def test_run_lengths_says_how_long_and_how_to_redo(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    runs = {"a": experiments.run("a", tiny_cpu(), progress=False),
            "b": experiments.run("b", tiny_cpu(steps=3), progress=False)}
    text = course.run_lengths(runs, "05_byol")
    assert "2 runs of 2 / 3 steps at profile `cpu`" in text
    assert "SSLKIT_RERUN=1 python notebooks/build.py 05_byol --execute --profile cpu" in text


def test_another_copy_of_a_published_data_set_reuses_the_stored_run(tmp_path, monkeypatch):
    """The book's CIFAR-10 is a JPEG copy; Colab downloads torchvision's: same name and size,
    other pixels. Generated data (shapes) must match pixel for pixel."""
    import dataclasses

    from sslkit import data

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    shapes = data.load("shapes", split="test").subset(torch.arange(160))
    copy_a = dataclasses.replace(shapes, name="cifar10")
    copy_b = dataclasses.replace(copy_a, images=255 - copy_a.images)  # other pixels, same size
    experiments.run("c", tiny_cpu(), train_data=copy_a, test_data=copy_a, progress=False)
    assert experiments.run("c", tiny_cpu(), train_data=copy_b, test_data=copy_b,
                           progress=False).cached
    smaller = copy_b.subset(torch.arange(150))
    assert not experiments.run("c", tiny_cpu(), train_data=smaller, test_data=smaller,
                               progress=False).cached
    experiments.run("s", tiny_cpu(), train_data=shapes, test_data=shapes, progress=False)
    other = dataclasses.replace(shapes, images=255 - shapes.images)
    assert not experiments.run("s", tiny_cpu(), train_data=other, test_data=other,
                               progress=False).cached
