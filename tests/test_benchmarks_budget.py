"""benchmarks/cpu_budget.py and time_to_target.py: statistics, crossings, resume (issue 15)."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cpu_budget  # noqa: E402
import stats  # noqa: E402
import time_to_target  # noqa: E402


@pytest.mark.parametrize("df, table", [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228),
                                       (30, 2.042), (1000, 1.962)])
def test_t_quantile_matches_the_table(df, table):
    assert stats.t_quantile(0.975, df) == pytest.approx(table, abs=1e-3)


def test_t_quantile_between_integer_degrees_of_freedom():
    q2, q25, q3 = (stats.t_quantile(0.975, df) for df in (2, 2.5, 3))
    assert q2 > q25 > q3  # Welch's degrees of freedom are not integers
    assert stats.t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="0.5 <= p < 1"):
        stats.t_quantile(0.2, 3)


def test_welch_interval_by_hand():
    a, b = [1.0, 2.0, 3.0], [0.0, 0.5, 1.0]
    w = stats.welch_interval(a, b)
    va, vb = 1.0 / 3, 0.25 / 3  # sample variance / n
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    half = stats.t_quantile(0.975, df) * math.sqrt(va + vb)
    assert w["difference"] == pytest.approx(1.5) and w["df"] == pytest.approx(df)
    assert w["ci"] == pytest.approx([1.5 - half, 1.5 + half])
    assert w["verdict"] == "no difference shown"  # the interval holds 0: not "ahead"


def test_welch_verdicts_and_too_few_seeds():
    assert stats.welch_interval([0.50, 0.51, 0.52], [0.40, 0.41, 0.42])["verdict"] == "a ahead"
    assert stats.welch_interval([0.40, 0.41, 0.42], [0.50, 0.51, 0.52])["verdict"] == "b ahead"
    one = stats.welch_interval([0.5], [0.4, 0.41])
    assert one["ci"] is None and "2 or more seeds" in one["verdict"]
    assert stats.mean_sem([0.4]) == (0.4, None)
    assert stats.mean_sem([1.0, 3.0]) == (2.0, pytest.approx(1.0))


def _row(knn, steps=100):
    return {"knn_top1": knn, "wall_s": 300.0, "steps": steps, "images_per_s": 40.0,
            "eval_wall_s": 5.0, "final_loss": 1.0, "config": {"max_seconds": 300.0}}


def test_entries_hold_the_seed_mean_and_differences_their_interval():
    ours = cpu_budget.summarize("sslkit", {"1": _row(0.47), "0": _row(0.45), "2": _row(0.46)})
    assert ours["knn_top1"] == pytest.approx(0.46) and ours["n_seeds"] == 3
    assert ours["knn_sem"] == pytest.approx(0.01 / math.sqrt(3))
    assert list(ours["seeds"]) == ["0", "1", "2"] and "config" not in ours["seeds"]["0"]
    assert ours["seeds"]["1"]["knn_top1"] == 0.47 and ours["config"] == {"max_seconds": 300.0}
    peer = cpu_budget.summarize("lightly", {"0": _row(0.40), "1": _row(0.41), "2": _row(0.42)})
    diff = cpu_budget.differences({"methods": {"vicreg": ours},
                                   "peers": {"lightly:vicreg": peer}})["vicreg"]
    assert diff["sslkit_minus_peer"] == pytest.approx(0.05)
    assert diff["ci"][0] > 0 and diff["verdict"] == "sslkit ahead"
    assert diff["interval"] == "Welch t, 95% two-sided"


def test_first_crossing_interpolates_between_the_bracketing_evaluations():
    curve = [(0, 0.30), (100, 0.45), (200, 0.55), (300, 0.48), (400, 0.60)]
    hit = time_to_target.first_crossing(curve, 0.50)
    assert hit["reached"] and hit["seconds"] == pytest.approx(150.0)  # the first crossing
    assert hit["bracket"] == [[100, 0.45], [200, 0.55]]
    miss = time_to_target.first_crossing(curve, 0.70)
    assert not miss["reached"] and miss["seconds"] is None
    assert (miss["best_knn"], miss["best_at_s"]) == (0.60, 400)
    assert time_to_target.first_crossing([(50, 0.6)], 0.5)["seconds"] == 50


def test_curve_of_a_run_adds_the_final_knn_once():
    history = [{"step": 10, "time_s": 5.0, "knn_top1": 0.3}, {"step": 15, "time_s": 7.5}]
    run = {"history": history, "metrics": {"knn_top1": 0.4}, "wall_s": 7.6}
    assert time_to_target.curve_of(run) == [(5.0, 0.3), (7.6, 0.4)]
    history[-1]["knn_top1"] = 0.4  # the last step was an evaluation step: not twice
    assert time_to_target.curve_of(run) == [(5.0, 0.3), (7.5, 0.4)]


@pytest.mark.slow
def test_cpu_budget_keeps_finished_seeds_and_skips_them(tmp_path, monkeypatch, capsys):
    out = tmp_path / "budget.json"
    monkeypatch.setattr(cpu_budget, "ROOT", tmp_path)  # run folders under tmp_path
    argv = ["--smoke", "--minutes", "0.03", "--seeds", "2", "--peers", "--probe-steps", "2",
            "--quiet", "--out", str(out)]
    cpu_budget.main(argv)
    report = json.loads(out.read_text())
    entry = report["methods"]["vicreg"]
    assert list(entry["seeds"]) == ["0", "1"] and entry["n_seeds"] == 2
    assert entry["knn_top1"] == pytest.approx(
        sum(r["knn_top1"] for r in entry["seeds"].values()) / 2)
    assert entry["config"]["max_seconds"] == pytest.approx(1.8)
    for row in entry["seeds"].values():  # stopped by the clock, within a step of it
        assert row["wall_s"] >= 1.8 and row["steps"] >= 1

    def no_training(*args, **kwargs):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(cpu_budget, "run_sslkit", no_training)
    cpu_budget.main(argv)
    assert capsys.readouterr().out.count("done already") == 2
    assert json.loads(out.read_text())["methods"]["vicreg"]["seeds"] == entry["seeds"]


def test_time_to_target_reads_the_curve_of_a_finished_run(tmp_path, capsys):
    history = [{"step": 1, "time_s": 0.5, "loss": 3.0},
               {"step": 100, "time_s": 60.0, "loss": 2.0, "knn_top1": 0.42},
               {"step": 200, "time_s": 120.0, "loss": 1.0, "knn_top1": 0.54}]
    run = tmp_path / "results.json"
    run.write_text(json.dumps({"config": {"method": "vicreg"}, "history": history,
                               "metrics": {"knn_top1": 0.54}, "wall_s": 120.5}))
    out = tmp_path / "ttt.json"
    time_to_target.main(["--from", str(run), "--out", str(out)])
    (entry,) = json.loads(out.read_text())["methods"].values()
    assert entry["seconds"] == pytest.approx(60.0 + 0.08 / 0.12 * 60.0)  # 100 s
    assert entry["bracket"] == [[60.0, 0.42], [120.0, 0.54]]
    assert "| 1.7 |" in capsys.readouterr().out  # minutes, in the printed table
