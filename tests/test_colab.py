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


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def planned_runs(monkeypatch, tmp_path):
    """Four runs as a chapter declares them, with results stored as experiments.run stores
    them: one stored, its twin under another key, one stored with another config (stale),
    one never stored."""
    from sslkit import experiments
    from sslkit.data import make_shapes
    from sslkit.methods import get_method
    from sslkit.train import TrainConfig

    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("SSLKIT_RERUN", raising=False)
    train_data, test_data = make_shapes(n=96, seed=0), make_shapes(n=32, seed=1)
    base = dict(profile="cpu", data=train_data.name, batch_size=16, train_size=96,
                eval_train_size=64, eval_test_size=32, steps=40)
    vicreg = TrainConfig(method="vicreg", **base)
    runs = {"vicreg": vicreg, "copy": vicreg,
            "byol": TrainConfig(method="byol", **base),
            "fresh": TrainConfig(method="vicreg", **{**base, "lr": 1e-3})}
    record = dict(zip(("fingerprint", "shapes"),
                      experiments.data_record(train_data, test_data)))
    folder = experiments.results_dir("cpu")
    folder.mkdir(parents=True)
    for key, cfg in (("vicreg", vicreg), ("byol", TrainConfig(method="byol",
                                                              **{**base, "steps": 41}))):
        resolved = cfg.resolved(get_method(cfg.method).train_defaults).to_dict()
        (folder / f"{key}.json").write_text(json.dumps({"config": resolved, **record}))
    return runs, train_data, test_data


def test_plan_says_which_runs_are_stored_and_measures_the_rest(planned_runs, tmp_path):
    from sslkit import experiments

    runs, train_data, test_data = planned_runs
    before, rng = _files(tmp_path), torch.get_rng_state()
    p = experiments.plan(runs, train_data=train_data, test_data=test_data, probe_steps=2)
    assert p.stored == ["vicreg", "copy"] and p.to_train == ["byol", "fresh"]
    why = {r.key: r.why for r in p.runs}
    assert why == {"vicreg": "stored", "copy": "stored as vicreg",
                   "byol": "stale: its config or data changed", "fresh": "not stored"}
    assert p.steps == 80 and p.device.startswith("cpu")
    byol, fresh = p.runs[2], p.runs[3]
    assert 0 < byol.seconds_per_step < 60 and 0 < fresh.seconds_per_step < 60
    assert 0 < byol.seconds_per_evaluation == fresh.seconds_per_evaluation  # one network
    assert byol.evaluations == 1 and p.seconds == pytest.approx(
        40 * (byol.seconds_per_step + fresh.seconds_per_step)
        + 2 * byol.seconds_per_evaluation)
    text = str(p)
    assert text.startswith("4 runs in this chapter: 2 stored (reused), 2 will train: 80 steps "
                           "and 2 kNN evaluations, about ")
    assert "lr=0.001" in text.splitlines()[-1]  # what the variant changes, on its row
    assert repr(p) == text  # what a notebook stores as the plan's plain text
    assert "| copy | vicreg | 40 | 16 |  | stored as vicreg |" in p._repr_markdown_()
    # the probes trained throwaway copies: nothing written, the random state as it was
    assert _files(tmp_path) == before and not (tmp_path / "runs").exists()
    assert torch.equal(torch.get_rng_state(), rng)


def test_plan_counts_a_run_whose_weights_are_needed_and_missing(planned_runs, monkeypatch):
    """On a fresh clone the results are there but not the checkpoints: a chapter that needs
    a stored run's network (need_model=True) trains it again, and the plan says so."""
    from sslkit import experiments

    runs, train_data, test_data = planned_runs
    runs = {k: runs[k] for k in ("vicreg", "copy")}
    probes = []
    monkeypatch.setattr(experiments, "_seconds_per_step", lambda cfg, *a: probes.append(cfg)
                        or 0.5)
    monkeypatch.setattr(experiments, "_seconds_per_evaluation", lambda *a: 3.0)
    p = experiments.plan(runs, train_data=train_data, test_data=test_data)
    assert p.to_train == [] and p.device is None and probes == []  # nothing trains: no probe
    assert str(p).startswith("2 runs in this chapter: 2 stored (reused), none will train")
    p = experiments.plan(runs, train_data=train_data, test_data=test_data,
                         need_model=("copy",))
    assert p.stored == ["vicreg"] and p.to_train == ["copy"] and len(probes) == 1
    assert p.runs[1].why == "stored as vicreg, but its weights are needed and not here"
    assert p.seconds == 40 * 0.5 + 3.0
    monkeypatch.setenv("SSLKIT_RERUN", "1")
    p = experiments.plan(runs, train_data=train_data, test_data=test_data)
    assert p.to_train == ["vicreg", "copy"] and len(probes) == 2  # one probe for both


def test_plans_of_runs_on_different_data_add_up(planned_runs, monkeypatch):
    """A chapter that trains on two data sets adds their plans: one summary counts every
    run, and what a run changes is read against the runs of its method on its own data."""
    import dataclasses

    from sslkit import experiments
    from sslkit.data import make_shapes

    runs, train_data, test_data = planned_runs
    monkeypatch.setattr(experiments, "_seconds_per_step", lambda cfg, *a: 0.5)
    monkeypatch.setattr(experiments, "_seconds_per_evaluation", lambda *a: 3.0)
    first = experiments.plan({k: runs[k] for k in ("vicreg", "copy")}, train_data=train_data,
                             test_data=test_data)
    lab_train, lab_test = (dataclasses.replace(make_shapes(n=n, seed=n), name="lab")
                           for n in (96, 32))
    short = dataclasses.replace(runs["vicreg"], steps=10)
    lab = {"lab-0": short, "lab-1": dataclasses.replace(short, lr=1e-3)}
    second = experiments.plan(lab, train_data=lab_train, test_data=lab_test)
    solo = experiments.plan({"solo": dataclasses.replace(runs["vicreg"], steps=20)},
                            train_data=dataclasses.replace(lab_train, name="solo"),
                            test_data=lab_test)
    p = first + second + solo
    assert first.device is None and p.device == second.device is not None
    assert p.stored == ["vicreg", "copy"] and p.to_train == ["lab-0", "lab-1", "solo"]
    assert p.seconds == second.seconds + solo.seconds == 2 * (10 * 0.5 + 3.0) + 20 * 0.5 + 3.0
    assert str(p).startswith("5 runs in this chapter: 2 stored (reused), 3 will train: 40 steps")
    differs = {row[0]: row[4] for row in p.rows()}
    # lab-0: not "steps=10 data=lab" against the other data set's runs; solo, alone on its
    # data, against all the method's runs (steps: 40, the first of the most common)
    assert differs == {"vicreg": "", "copy": "", "lab-0": "", "lab-1": "lr=0.001",
                       "solo": "data=solo steps=20"}


def test_plan_names_a_recipe_setting_that_a_run_leaves_to_its_default(planned_runs,
                                                                         monkeypatch):
    """recipe_args hold only what a run overrides: a run that sets none still differs from
    runs that switch colour off, and its row says so (chapter 1's "crop + colour")."""
    import dataclasses

    from sslkit import experiments

    runs, train_data, test_data = planned_runs
    monkeypatch.setattr(experiments, "_seconds_per_step", lambda cfg, *a: 0.5)
    monkeypatch.setattr(experiments, "_seconds_per_evaluation", lambda *a: 3.0)
    base = dataclasses.replace(runs["fresh"], recipe="simclr")
    colour_off = {"color_jitter": 0.0, "grayscale": 0.0}
    p = experiments.plan({"crop": dataclasses.replace(base, recipe_args=colour_off),
                          "crop+flip": dataclasses.replace(base, recipe_args={**colour_off,
                                                                              "flip": 0.0}),
                          "crop+colour": base}, train_data=train_data, test_data=test_data)
    differs = {row[0]: row[4] for row in p.rows()}
    assert differs == {"crop": "", "crop+flip": "recipe.flip=0.0",
                       "crop+colour": "recipe.color_jitter=default recipe.grayscale=default"}


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
