"""sslkit.colab, on CPU: a fake `google.colab`, a torch that differs from the book's pin."""

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from sslkit import colab


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A Colab runtime as far as sslkit can tell: google.colab imported, Colab's own torch."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(torch, "__version__", "2.6.0+cu124")  # not constraints.txt's 2.14.1
    for name in ("SSLKIT_RESULTS", "SSLKIT_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # restored (removed) after the test
    repo = tmp_path / "sslkit"
    (repo / "results" / "cpu").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'sslkit'\n")
    return repo


def test_prepare_installs_sslkit_without_touching_torch(fake_colab, tmp_path, capsys):
    calls = []
    env = colab.prepare(fake_colab, drive_folder=tmp_path / "drive" / "runs",
                        mount_drive=False, run=lambda cmd, **kw: calls.append((cmd, kw)))
    assert len(calls) == 1
    cmd, kw = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"] and kw == {"check": True}
    assert "--no-deps" in cmd and cmd[-2:] == ["-e", str(fake_colab)]
    assert not any("torch" in part for part in cmd)  # neither torch nor torchvision named
    assert not any("constraints" in part for part in cmd)  # the pins are not for Colab
    # the book's stored results are reused, at the profile they were made at
    assert env == {"SSLKIT_RESULTS": str(fake_colab / "results"), "SSLKIT_PROFILE": "cpu"}
    # checkpoints outlive the session: runs/ is a link to the Drive folder
    assert (fake_colab / "runs").resolve() == (tmp_path / "drive" / "runs").resolve()
    out = capsys.readouterr().out
    assert "checkpoints:" in out and "SSLKIT_PROFILE=gpu" in out
    assert "warning" not in out  # Colab's torch 2.6 satisfies torch>=2.3


def test_prepare_keeps_a_chosen_profile_and_refuses_to_hide_real_checkpoints(
        fake_colab, tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKIT_PROFILE", "gpu")
    (fake_colab / "runs").mkdir()
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        colab.prepare(fake_colab, drive_folder=tmp_path / "drive", mount_drive=False,
                      run=lambda cmd, **kw: None)
    env = colab.prepare(fake_colab, drive_folder=None, run=lambda cmd, **kw: None)
    assert "SSLKIT_PROFILE" not in env and env["SSLKIT_RESULTS"].endswith("results")


def test_prepare_does_nothing_outside_colab(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls = []
    assert colab.prepare(tmp_path, run=lambda *a, **k: calls.append(a)) == {}
    assert calls == []


def test_prepare_refuses_a_folder_that_is_not_a_clone(fake_colab, tmp_path):
    with pytest.raises(FileNotFoundError, match="git clone --depth 1"):
        colab.prepare(tmp_path / "elsewhere", run=lambda *a, **k: None)


def test_a_torch_older_than_the_range_is_reported(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.1.2+cu121")
    problems = colab.check_requirements()
    assert len(problems) == 1 and "torch 2.1.2+cu121 is older than 2.3" in problems[0]


def test_plan_counts_stored_runs_and_measures_the_rest(monkeypatch, tmp_path):
    from sslkit import experiments
    from sslkit.data import make_shapes
    from sslkit.methods import get_method
    from sslkit.train import TrainConfig

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path / "results"))
    train_data, test_data = make_shapes(n=96, seed=0), make_shapes(n=32, seed=1)
    base = dict(profile="cpu", data=train_data.name, batch_size=16, train_size=96,
                eval_train_size=64, eval_test_size=32, steps=40)
    runs = {"vicreg": TrainConfig(method="vicreg", **base),
            "byol": TrainConfig(method="byol", **base)}
    # store vicreg as experiments.run would
    folder = experiments.results_dir("cpu")
    folder.mkdir(parents=True)
    resolved = runs["vicreg"].resolved(get_method("vicreg").train_defaults).to_dict()
    (folder / "vicreg.json").write_text(json.dumps({
        "config": resolved, "fingerprint": {"train": experiments.data_fingerprint(train_data),
                                            "test": experiments.data_fingerprint(test_data)}}))
    p = colab.plan(runs, train_data=train_data, test_data=test_data, probe_steps=2)
    assert p.stored == ["vicreg"] and p.to_train == ["byol"] and p.steps == 40
    assert 0 < p.seconds_per_step < 60 and p.seconds == pytest.approx(40 * p.seconds_per_step)
    assert str(p).startswith("1 of 2 runs will train (byol): 40 steps")


def test_every_chapters_first_cell_clones_and_prepares_without_touching_torch(monkeypatch):
    """The first cell of each chapter and revision, run as Colab would run it (sslkit.colab and
    the clone mocked): a shallow clone of the repository and colab.prepare, no pip of torch."""
    import re
    import subprocess
    from pathlib import Path

    import sslkit.colab

    root = Path(__file__).resolve().parents[1]
    url = re.search(r"^\s*url:\s*(\S+)", (root / "_config.yml").read_text(), re.M).group(1)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell puts the clone on sys.path
    sources = sorted((root / "notebooks").glob("*/*.py"))  # src/ and next/ revisions
    for source in sources:
        cells = source.read_text().replace("@REPOSITORY@", url).split("# %%")
        first = next(c for c in cells[1:] if not c.startswith(" [markdown]"))
        setup = first.split("\nimport matplotlib")[0]  # the Colab part, before the imports
        calls, prepared = [], []
        monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
        monkeypatch.setattr(sslkit.colab, "prepare", lambda repo: prepared.append(repo))
        exec(compile(setup, str(source), "exec"), {})
        assert calls == [["git", "clone", "-q", "--depth", "1", url, "/content/sslkit"]] or \
            (calls == [] and Path("/content/sslkit").is_dir()), source.name
        assert prepared == ["/content/sslkit"], source.name
        assert not any("torch" in " ".join(map(str, c)) for c in calls), source.name
    assert len(sources) >= 1
