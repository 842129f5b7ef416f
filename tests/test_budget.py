"""Runs sized in wall-clock time: the speed probe, the step count, resume, the CLI flag."""

import dataclasses

import pytest
import torch

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


def test_cli_refuses_minutes_and_max_seconds_together(capsys):
    assert cli_main(["train", "--method", "vicreg", "--max-seconds", "3", "--minutes", "1"]) == 1
    assert "not both" in capsys.readouterr().err


# --- time budgets: TrainConfig.max_seconds stops by the clock, schedules follow the clock ---

class StepClock:
    """The loop's clock, advanced by exactly `step_s` seconds per training step (and by
    `eval_s` per kNN evaluation), so a time-budget run is exact and machine-independent."""

    def __init__(self, step_s: float = 1.0, eval_s: float = 0.0):
        self.now, self.step_s, self.eval_s = 0.0, step_s, eval_s

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from sslkit.train import loop

    fake = StepClock(eval_s=100.0)
    real_step, real_knn = loop._train_step, loop.Run.knn

    def timed_step(*args, **kwargs):
        fake.now += fake.step_s
        return real_step(*args, **kwargs)

    def slow_knn(self):
        fake.now += fake.eval_s
        return real_knn(self)

    monkeypatch.setattr(loop, "time", fake)
    monkeypatch.setattr(loop, "_train_step", timed_step)
    monkeypatch.setattr(loop.Run, "knn", slow_knn)
    return fake


def test_time_budget_stops_by_the_clock_within_one_step():
    """Real clock: the run stops at the first step that ends past the budget."""
    budget_s = 2.0
    result = train(tiny(method="byol", steps=2, log_every=1, max_seconds=budget_s),
                   progress=False)
    ends = [h["time_s"] for h in result.history]  # every step logged: when each ended
    assert ends[-1] >= budget_s  # not before the budget...
    assert ([0.0] + ends)[-2] < budget_s  # ...and the last step started inside it
    assert result.wall_s == pytest.approx(ends[-1], abs=0.5)


def test_time_budget_lays_the_schedules_out_over_time(clock):
    """1 s per step, 5.5 s budget, schedules of 4 entries: steps start at 0, 1, ..., 5 s and
    read index floor(start / 5.5 * 4); the last reads the schedules' final values. The kNN
    evaluations (100 s each on this clock) do not count."""
    from sslkit.train import ema_momentum, warmup_cosine

    cfg = tiny(method="byol", steps=4, warmup_steps=1, log_every=1, eval_every=2,
               max_seconds=5.5)
    result = train(cfg, progress=False)
    assert [h["step"] for h in result.history] == [1, 2, 3, 4, 5, 6]
    assert [h["time_s"] for h in result.history] == [1, 2, 3, 4, 5, 6]  # evaluations left out
    assert [h["schedule_step"] for h in result.history] == [0, 0, 1, 2, 2, 3]
    run = result.config  # resolved: the lr the loop scaled
    lr = warmup_cosine(run.lr * run.batch_size / 256, 0.0, 4, 1)
    tau = ema_momentum(result.method.cfg.tau_base, 4)
    for h in result.history:
        assert h["lr"] == pytest.approx(float(lr[h["schedule_step"]]))
        assert h["tau"] == pytest.approx(float(tau[h["schedule_step"]]))
    assert result.history[-1]["tau"] == pytest.approx(float(tau[-1]))  # the end, at the end
    assert [("knn_top1" in h) for h in result.history] == [False, True, False, True, False, True]
    assert result.metrics["knn_top1"] == result.history[-1]["knn_top1"]  # not measured again
    assert result.wall_s == 6.0


def test_resumed_time_budget_counts_the_seconds_already_trained(clock, tmp_path,
                                                                monkeypatch):
    from sslkit.train import loop

    uninterrupted = train(tiny(steps=4, log_every=1, max_seconds=5.5), progress=False)
    clock.now = 0.0
    cfg = tiny(steps=4, log_every=1, checkpoint_every=1, max_seconds=5.5, out=str(tmp_path))
    counting_step = loop._train_step

    def dying_step(run, step, at=None):
        if step == 3:
            raise SystemExit("killed")
        return counting_step(run, step, at)

    monkeypatch.setattr(loop, "_train_step", dying_step)
    with pytest.raises(SystemExit):
        train(cfg, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3 and state["wall_s"] == 3.0  # the seconds a resume counts on

    monkeypatch.setattr(loop, "_train_step", counting_step)
    clock.now = 1000.0  # another session, later: only the checkpoint's 3 s count
    resumed = train(cfg, progress=False)
    # steps start at 3, 4, 5 s, at the schedule indices of the uninterrupted run: on this
    # exact clock, the resumed run is that run, loss for loss
    assert resumed.history == uninterrupted.history
    assert resumed.history[-1]["schedule_step"] == 3 and resumed.wall_s == 6.0
    for a, b in zip(uninterrupted.method.parameters(), resumed.method.parameters()):
        assert torch.equal(a, b)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 6

    again = train(cfg, progress=False)  # spent: no further step
    assert again.history == resumed.history and again.metrics["knn_top1"] == \
        resumed.metrics["knn_top1"]


def test_time_budget_must_be_positive():
    with pytest.raises(ValueError, match="max_seconds must be a positive"):
        tiny(max_seconds=0).resolved()


def test_time_budget_is_off_by_default_and_leaves_stored_runs_found(tmp_path, monkeypatch):
    """A result stored before TrainConfig had max_seconds is the same run as one with it
    left at its default (None), and a time-budget run is a different run."""
    import json

    from sslkit import experiments

    assert TrainConfig().max_seconds is None
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path))
    cfg = TrainConfig(method="vicreg", profile="cpu", steps=2, batch_size=16, train_size=64,
                      eval_train_size=64, eval_test_size=32, log_every=1, checkpoint_every=0,
                      method_args={"expander": [32, 32]})
    experiments.run("k", cfg, progress=False)
    stored = tmp_path / "cpu" / "k.json"
    saved = json.loads(stored.read_text())
    assert saved["config"]["max_seconds"] is None
    del saved["config"]["max_seconds"]  # as every result stored before the field existed
    stored.write_text(json.dumps(saved))
    assert experiments.find_stored("k", cfg) == "k"
    assert experiments.run("k", cfg, progress=False).cached
    assert experiments.find_stored("k", dataclasses.replace(cfg, max_seconds=60.0)) is None


def _budget_rank(rank, port, out_dir):
    """One of two gloo processes in a time-budget run; process 1's clock runs twice as fast
    (as if it were slower), so only a shared clock stops both at the same step."""
    import os
    import time
    from types import SimpleNamespace

    from sslkit import distributed
    from sslkit.data import make_shapes
    from sslkit.train import loop

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    if rank == 1:
        loop.time = SimpleNamespace(perf_counter=lambda: 2 * time.perf_counter())
    try:
        run = train(tiny(steps=8, batch_size=16, log_every=1, max_seconds=6.0,
                         channels_last=False),
                    train_data=make_shapes(n=128, seed=0), test_data=make_shapes(n=64, seed=1),
                    progress=False, evaluate_knn=False)
        torch.save([(h["step"], h["schedule_step"]) for h in run.history],
                   out_dir / f"rank{rank}.pt")
    finally:
        if distributed.is_distributed():
            torch.distributed.destroy_process_group()


def test_time_budget_under_two_processes_stops_both_at_the_same_step(tmp_path):
    import socket

    import torch.multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs fork")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_budget_rank, args=(port, tmp_path), nprocs=2, join=True,
                       start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0] == ranks[1] and len(ranks[0]) >= 1  # same steps, same schedule indices
    assert ranks[0][-1][1] <= 7


def test_cli_max_seconds_stops_the_run_by_the_clock(clock, tmp_path, capsys):
    """`--max-seconds 3` at 1 s per step: 3 steps of a 100-step schedule, recorded in the
    run's config, and the kNN summary line still printed."""
    import json

    code = cli_main(["train", "--method", "vicreg", "--max-seconds", "3", "--steps", "100",
                     "--batch-size", "16", "--out", str(tmp_path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["max_seconds"] == 3.0 and results["config"]["steps"] == 100
    assert results["history"][-1]["step"] == 3
    assert captured.out.strip().splitlines()[-1].startswith("kNN top-1")


# --- time to a target: TrainConfig.stop_at_knn ends a run at its first evaluation >= target ---

def test_stop_at_knn_ends_the_run_at_the_first_evaluation_that_reaches_it(monkeypatch):
    from sslkit.train import loop

    scores = iter([0.30, 0.45, 0.55, 0.70, 0.80])  # the kNN of each evaluation, in order
    monkeypatch.setattr(loop.Run, "knn", lambda self: next(scores))
    result = train(tiny(steps=10, eval_every=2, log_every=2, stop_at_knn=0.5), progress=False)
    evaluated = [(h["step"], h["knn_top1"]) for h in result.history if "knn_top1" in h]
    assert evaluated == [(2, 0.30), (4, 0.45), (6, 0.55)]  # stopped after step 6, not 10
    assert result.history[-1]["step"] == 6
    assert result.metrics["knn_top1"] == 0.55  # the evaluation that reached it, not a new one
    # without the target the same run goes the whole way
    scores = iter([0.30, 0.45, 0.55, 0.70, 0.80])
    full = train(tiny(steps=10, eval_every=2, log_every=2), progress=False)
    assert full.history[-1]["step"] == 10


def test_stop_at_knn_needs_evaluations_along_the_run():
    with pytest.raises(ValueError, match="stop_at_knn=0.5 needs kNN evaluations"):
        tiny(stop_at_knn=0.5).resolved()
