"""The training loop: schedules, optimisers, resume, bad input, CLI."""

import json
import math

import pytest
import torch

from sslkit.cli import main as cli_main
from sslkit.methods import METHODS
from sslkit.train import (CheckpointError, LARS, NonFiniteLossError, TrainConfig,
                          ema_momentum, train, warmup_cosine)
from sslkit.train.loop import build_run_recipe
from sslkit.train.optim import build_optimizer


def tiny(**kw):
    """A run small enough for a unit test: a few steps on a slice of the shapes data."""
    base = dict(method="vicreg", profile="smoke", steps=6, batch_size=32, train_size=256,
                eval_train_size=256, eval_test_size=128, log_every=2)
    base.update(kw)
    return TrainConfig(**base)


def test_warmup_cosine_shape_and_endpoints():
    s = warmup_cosine(1.0, 0.0, total_steps=100, warmup_steps=10)
    assert s.shape == (100,)
    assert s[0] == 0.0 and math.isclose(float(s[10]), 1.0)
    assert float(s.max()) <= 1.0 and float(s[-1]) < 0.01
    assert torch.all(s[10:].diff() <= 1e-12)  # monotone after warm-up


def test_ema_momentum_goes_from_base_to_one():
    tau = ema_momentum(0.99, 1000)
    assert math.isclose(float(tau[0]), 0.99) and float(tau[-1]) > 0.99999
    assert torch.all(tau.diff() >= 0)


def test_lars_matches_sgd_when_excluded():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    opt_b = LARS([{"params": b.parameters(), "lars_exclude": True}], lr=0.1, momentum=0.9)
    x = torch.randn(8, 4)
    for _ in range(3):
        for m, o in ((a, opt_a), (b, opt_b)):
            o.zero_grad()
            m(x).pow(2).sum().backward()
            o.step()
    torch.testing.assert_close(a.weight, b.weight)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="sgd, adamw, lars"):
        build_optimizer("adam", torch.nn.Linear(2, 2), lr=0.1, weight_decay=0.0)


def test_profile_and_method_defaults_fill_only_missing_fields():
    cfg = TrainConfig(method="vicreg", profile="cpu", lr=0.5).resolved(
        {"cpu": {"lr": 9.0, "optimizer": "lars", "method_args": {"expander": [8]}}})
    assert cfg.lr == 0.5 and cfg.optimizer == "lars" and cfg.method_args == {"expander": [8]}
    with pytest.raises(ValueError, match="smoke"):
        TrainConfig(profile="huge").resolved()


def test_view_size_comes_from_the_profile_and_trains_smaller_views():
    assert TrainConfig(profile="cpu").resolved().view_size == 24  # the cpu budget default
    assert TrainConfig(profile="smoke").resolved().view_size is None  # the images' size
    assert TrainConfig(profile="cpu", view_size=32).resolved().view_size == 32
    run = train(tiny(steps=2, view_size=16), progress=False)
    recipe = build_run_recipe(run.config, run.method, 32, (0.5,) * 3, (0.25,) * 3)
    views = recipe(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.Generator())
    assert [tuple(v.shape[-2:]) for v in views] == [(16, 16), (16, 16)]
    assert run.metrics["knn_top1"] > 0  # evaluated on the whole 32 px images
    with pytest.raises(ValueError, match="view size is set twice"):
        train(tiny(steps=1, view_size=16, recipe_args={"view_size": 24}), progress=False)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_takes_a_step_at_the_cpu_profile(method):
    """The cpu profile's settings (24 px views, batch 128, its heads) fit every method."""
    cfg = TrainConfig(method=method, profile="cpu", steps=1, train_size=128,
                      eval_train_size=64, eval_test_size=32, checkpoint_every=0)
    run = train(cfg, progress=False)
    assert math.isfinite(run.history[-1]["loss"])


def test_backbone_args_reach_the_backbone():
    run = train(tiny(steps=1, backbone_args={"widths": [8, 16, 32, 48]}), progress=False)
    assert run.method.backbone.out_dim == 48
    with pytest.raises(TypeError):
        train(tiny(steps=1, backbone_args={"depth": 3}), progress=False)


def test_smoke_run_trains_and_records_history(tmp_path):
    result = train(tiny(out=str(tmp_path)), progress=False)
    steps = [h["step"] for h in result.history]
    assert steps == [1, 2, 4, 6]
    for key in ("loss", "invariance", "variance", "covariance", "std_l2", "rank", "lr"):
        assert all(math.isfinite(h[key]) for h in result.history), key
    assert 0.0 <= result.metrics["knn_top1"] <= 1.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["method"] == "vicreg" and saved["metrics"]["knn_top1"] == \
        result.metrics["knn_top1"]
    assert len(saved["history"]) == len(result.history) and saved["wall_s"] > 0


def test_same_seed_same_result():
    a = train(tiny(steps=3), progress=False)
    b = train(tiny(steps=3), progress=False)
    assert a.history[-1]["loss"] == b.history[-1]["loss"]
    for pa, pb in zip(a.method.parameters(), b.method.parameters()):
        assert torch.equal(pa, pb)


def test_resume_after_kill_equals_uninterrupted_run(tmp_path, monkeypatch):
    full = train(tiny(steps=6), progress=False)

    # Kill the run after step 4 (checkpoints every 2 steps) by failing inside step 5.
    import sslkit.train.loop as loop
    real_step = loop._train_step

    def dying_step(*args, **kwargs):
        if args[1] == 4:  # _train_step(run, step)
            raise SystemExit("killed")
        return real_step(*args, **kwargs)

    cfg = tiny(steps=6, checkpoint_every=2, out=str(tmp_path))
    monkeypatch.setattr(loop, "_train_step", dying_step)
    with pytest.raises(SystemExit):
        train(cfg, progress=False)
    monkeypatch.setattr(loop, "_train_step", real_step)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 4

    resumed = train(cfg, progress=False)
    for pa, pb in zip(full.method.parameters(), resumed.method.parameters()):
        assert torch.equal(pa, pb)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    assert resumed.metrics["knn_top1"] == full.metrics["knn_top1"]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny(optimizer="sgd", lr=1e25, log_every=1, checkpoint_every=1, out=str(tmp_path))
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        train(cfg, progress=False)
    # the warm-up starts at lr 0, so step 1 is good and checkpointed; the diverged steps
    # after it must not have replaced that checkpoint
    kept = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert 1 <= kept["step"] < cfg.steps
    assert all(torch.isfinite(t).all() for t in kept["method"].values() if t.is_floating_point())


def test_corrupt_checkpoint_is_reported_and_left_alone(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        train(tiny(out=str(tmp_path)), progress=False)
    assert ckpt.read_bytes() == b"not a checkpoint"


def test_checkpoint_of_another_config_is_refused(tmp_path):
    train(tiny(steps=2, checkpoint_every=1, out=str(tmp_path)), progress=False)
    with pytest.raises(CheckpointError, match="batch_size"):
        train(tiny(steps=2, batch_size=16, out=str(tmp_path)), progress=False)


def test_batch_larger_than_data_is_refused():
    with pytest.raises(ValueError, match="batch"):
        train(tiny(batch_size=512, train_size=100), progress=False)


def test_cli_refuses_unknown_method_and_lists_valid(capsys):
    assert cli_main(["train", "--method", "simclr2"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'simclr2'" in err and "vicreg" in err


def test_cli_refuses_unknown_data(capsys):
    assert cli_main(["train", "--method", "vicreg", "--data", "imagenet"]) == 2
    assert "shapes" in capsys.readouterr().err


def test_cli_trains_and_prints_knn(tmp_path, capsys):
    code = cli_main(["train", "--method", "vicreg", "--steps", "3", "--batch-size", "32",
                     "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "kNN top-1 accuracy" in out and str(tmp_path / "results.json") in out


def test_eval_and_train_subsets_are_random_not_a_class_sorted_prefix():
    from sslkit.data import ImageData
    from sslkit.train.loop import random_subset

    labels = torch.arange(10).repeat_interleave(100)  # sorted by class, like ImageFolder
    images = torch.zeros(1000, 3, 4, 4, dtype=torch.uint8)
    data = ImageData(images=images, labels=labels, classes=[str(i) for i in range(10)],
                     name="sorted")
    sub = random_subset(data, 100, seed=1)
    assert len(sub) == 100 and set(sub.labels.tolist()) == set(range(10))
    assert random_subset(data, None, seed=1) is data
    assert torch.equal(sub.labels, random_subset(data, 100, seed=1).labels)


def _lars_reference_step(params, state, lr, wd, momentum, eta, exclude):
    """The official per-parameter LARS update (facebookresearch/barlowtwins main.py)."""
    with torch.no_grad():
        for p in params:
            d = p.grad
            if not exclude:
                d = d.add(p, alpha=wd)
                pn, un = torch.norm(p), torch.norm(d)
                q = torch.where((pn > 0) & (un > 0), eta * pn / un, torch.ones_like(pn))
                d = d.mul(q)
            mu = state.setdefault(p, torch.zeros_like(p))
            mu.mul_(momentum).add_(d)
            p.add_(mu, alpha=-lr)


def test_foreach_lars_equals_the_per_parameter_reference():
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    b = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    b.load_state_dict(a.state_dict())
    torch.nn.init.zeros_(a[2].weight), torch.nn.init.zeros_(b[2].weight)  # the norm-0 branch
    decay = lambda m: [p for p in m.parameters() if p.ndim > 1]  # noqa: E731
    no_decay = lambda m: [p for p in m.parameters() if p.ndim <= 1]  # noqa: E731
    opt = LARS([{"params": decay(a)}, {"params": no_decay(a), "lars_exclude": True}],
               lr=0.2, weight_decay=1e-2, momentum=0.9, eta=0.02)
    state = {}
    before = [p.detach().clone() for p in a.parameters()]
    x = torch.randn(16, 5)
    for _ in range(4):
        for m in (a, b):
            m.zero_grad()
            m(x).pow(2).sum().backward()
        opt.step()
        _lars_reference_step(decay(b), state, 0.2, 1e-2, 0.9, 0.02, exclude=False)
        _lars_reference_step(no_decay(b), state, 0.2, 1e-2, 0.9, 0.02, exclude=True)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)
    # every weight moved (the bias before BatchNorm has no gradient, so it may not)
    assert all(not torch.equal(p, q) for p, q in zip(a.parameters(), before) if p.ndim > 1)


def test_cli_names_the_valid_method_keys_for_a_bad_set(capsys):
    code = cli_main(["train", "--method", "byol", "--set", "eval_train_size=512", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "TypeError" not in err
    assert "BYOLConfig has no 'eval_train_size'" in err and "a run setting" in err
    assert "tau_base" in err  # the valid keys are listed


def test_simsiam_fixed_predictor_lr_and_official_recipe():
    from sslkit.augment.recipes import recipe_views

    # main_simsiam.py: crop area (0.2, 1), jitter (0.4, 0.4, 0.4, 0.1), blur 0.5 above 64 px
    view = recipe_views("simsiam", 224)[0]
    assert (view.crop_scale, view.brightness, view.saturation, view.hue, view.blur) == \
        ((0.2, 1.0), 0.4, 0.4, 0.1, 0.5)
    run = train(tiny(method="simsiam", steps=3, warmup_steps=0,
                     method_args={"fix_pred_lr": True}), progress=False, evaluate_knn=False)
    groups = build_optimizer("sgd", run.method, lr=0.0, weight_decay=0.0).param_groups
    fixed = {id(p) for g in groups if g.get("fix_lr") for p in g["params"]}
    assert fixed == {id(p) for p in run.method.predictor.parameters()}
    # the loop's last lr: cosine-decayed for the encoder, the initial one for the predictor
    import sslkit.train.loop as loop
    r = loop.set_up(run.config)
    loop._train_step(r, 2)
    lrs = {bool(g.get("fix_lr")): g["lr"] for g in r.optimizer.param_groups}
    initial = run.config.lr * run.config.batch_size / 256  # no warm-up: the step-0 lr
    assert lrs[True] == pytest.approx(initial) and lrs[False] < lrs[True]


def test_the_last_steps_knn_is_measured_once(monkeypatch):
    """With eval_every dividing the steps, the final network's kNN is the last logged one:
    measured once, not again at the end (a whole-set kNN costs ~40 s on 2 cores)."""
    from sslkit.train import loop

    calls = []
    real = loop.knn_eval
    monkeypatch.setattr(loop, "knn_eval", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = train(tiny(steps=4, eval_every=2), progress=False)
    logged = [h["knn_top1"] for h in result.history if "knn_top1" in h]
    assert len(calls) == 2 == len(logged)  # at steps 2 and 4, none extra
    assert result.metrics["knn_top1"] == logged[-1] and result.metrics["eval_wall_s"] > 0
    calls.clear()
    result = train(tiny(steps=3, eval_every=2), progress=False)
    assert len(calls) == 2  # step 2, then the end: step 3 is not an eval step


def test_config_command_says_where_every_value_comes_from(capsys):
    assert cli_main(["config", "--method", "byol", "--profile", "cpu", "--data", "cifar10",
                     "--lr", "0.003", "--set", "tau_base=0.996"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "given" in lines["lr"] and "0.003" in lines["lr"]
    assert "PROFILES['cpu']" in lines["batch_size"] and "128" in lines["batch_size"]
    assert "train_defaults['cpu'] (sslkit/methods/byol.py)" in lines["method_args.projector_out"]
    assert "BYOLConfig default" in lines["method_args.tau_schedule"]
    assert "given" in lines["method_args.tau_base"] and "0.996" in lines["method_args.tau_base"]
    assert "TrainConfig default" in lines["knn_k"]
