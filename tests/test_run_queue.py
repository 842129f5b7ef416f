"""notebooks/run_queue.py runs a benchmark after the chapters: the script from the snapshot,
its --out file in the checkout, committed, and the benchmark marked done in the queue state."""

import importlib.util
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_queue", ROOT / "notebooks" / "run_queue.py")
run_queue = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_queue)

FAKE_BENCHMARK = """import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--seeds", type=int)
parser.add_argument("--out")
args = parser.parse_args()
json.dump({"seeds": args.seeds, "cwd": os.getcwd()}, open(args.out, "w"))
sys.exit(int(args.seeds < 0))
"""


def make_checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "checkout"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "results").mkdir()
    (repo / "benchmarks" / "fake.py").write_text(FAKE_BENCHMARK)
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t",
                                               "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.email", "t@t"], cwd=repo, check=True)
    return repo


def patch_queue(monkeypatch, repo: Path, seeds: int) -> None:
    git = run_queue.git
    monkeypatch.setattr(run_queue, "ROOT", repo)
    monkeypatch.setattr(run_queue, "SNAPSHOT", repo / "runs" / "queue-snapshot")
    monkeypatch.setattr(run_queue, "STATE", repo / "results" / "queue-state.json")
    monkeypatch.setattr(run_queue, "git", lambda *a, cwd=repo, check=True: git(*a, cwd=cwd,
                                                                                 check=check))
    monkeypatch.setattr(run_queue, "BENCHMARKS", {"fake": [
        "benchmarks/fake.py", "--seeds", str(seeds), "--out", "results/fake.json"]})


def test_benchmark_runs_from_the_snapshot_and_commits_its_output(tmp_path, monkeypatch):
    repo = make_checkout(tmp_path)
    patch_queue(monkeypatch, repo, seeds=3)
    assert run_queue.pending_benchmarks() == ["fake"]
    run_queue.refresh_snapshot(None)
    assert run_queue.run_benchmark("fake")
    written = json.loads((repo / "results" / "fake.json").read_text())
    assert written["seeds"] == 3
    assert Path(written["cwd"]) == repo / "runs" / "queue-snapshot"  # ran from the snapshot
    committed = subprocess.run(["git", "show", "HEAD:results/fake.json"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout
    assert json.loads(committed)["seeds"] == 3
    assert run_queue.pending_benchmarks() == []  # marked done in the state


def test_failed_benchmark_stays_pending(tmp_path, monkeypatch):
    repo = make_checkout(tmp_path)
    patch_queue(monkeypatch, repo, seeds=-1)
    run_queue.refresh_snapshot(None)
    assert not run_queue.run_benchmark("fake")
    assert run_queue.pending_benchmarks() == ["fake"]
