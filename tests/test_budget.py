"""Runs sized in wall-clock time: the speed probe, the step count, resume, the CLI flag."""

import pytest

import sslkit.train.budget as budget
from sslkit.cli import main as cli_main
from sslkit.train import TrainConfig, train


def tiny(**kw):
    base = dict(method="vicreg", profile="smoke", steps=6, batch_size=32, train_size=256,
                eval_train_size=256, eval_test_size=128, log_every=2)
    base.update(kw)
    return TrainConfig(**base)


def test_speed_probe_measures_real_steps_and_writes_nothing(tmp_path):
    per_step = budget.seconds_per_step(tiny(out=str(tmp_path)), probe_steps=3)
    assert 0.0 < per_step < 60.0
    assert list(tmp_path.iterdir()) == []  # a probe neither checkpoints nor writes results


def test_budget_divided_by_measured_speed(monkeypatch):
    monkeypatch.setattr(budget, "seconds_per_step", lambda cfg, **kw: 0.25)
    assert budget.steps_for_budget(tiny(), 10.0) == (40, 0.25)
    assert budget.steps_for_budget(tiny(), 0.1)[0] == 1  # never zero steps
    with pytest.raises(ValueError, match="positive"):
        budget.steps_for_budget(tiny(), 0)


def test_interrupted_budget_run_keeps_its_step_count(tmp_path, monkeypatch):
    # a checkpoint of a 4-step run in `out`: re-sizing would break the resume, so its
    # step count is reused and no new probe runs
    train(tiny(steps=4, checkpoint_every=2, out=str(tmp_path)), progress=False)

    def no_probe(cfg, **kw):
        raise AssertionError("probed although a checkpoint gives the step count")

    monkeypatch.setattr(budget, "seconds_per_step", no_probe)
    steps, per_step = budget.steps_for_budget(tiny(out=str(tmp_path)), 300.0)
    assert steps == 4 and per_step > 0


def test_probe_refuses_too_few_steps():
    with pytest.raises(ValueError, match="probe_steps"):
        budget.seconds_per_step(tiny(), probe_steps=1)


def test_cli_minutes_sizes_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(budget, "seconds_per_step", lambda cfg, **kw: 1.0)
    code = cli_main(["train", "--method", "vicreg", "--minutes", "0.05", "--batch-size", "32",
                     "--out", str(tmp_path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 steps fit in 0.05 min" in captured.err
    import json
    assert json.loads((tmp_path / "results.json").read_text())["config"]["steps"] == 3


def test_cli_refuses_steps_and_minutes_together(capsys):
    assert cli_main(["train", "--method", "vicreg", "--steps", "3", "--minutes", "1"]) == 1
    assert "not both" in capsys.readouterr().err
