"""The run configuration and the three run sizes (profiles).

A field left at None is filled, in this order, from the method's own defaults for the
profile (`MethodSpec.train_defaults[profile]`) and then from the profile below. So
`TrainConfig(method="byol", profile="cpu")` is a complete, meaningful run, and any field you
set wins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    # smoke: finishes in well under a minute on 2 CPU cores; for tests and CI only.
    # 150 steps at lr 5e-3 per 256 (not 30 at 2e-3): on the shapes, with the "shapes" recipe,
    # VICReg's kNN rises from the untrained 0.2 to about 0.75 in that time (issue 12,
    # results/shapes_learnability.json); 30 steps showed nothing learnt.
    "smoke": dict(backbone="smallcnn", batch_size=64, steps=150, train_size=2048,
                  eval_train_size=2048, eval_test_size=1000, log_every=10,
                  checkpoint_every=0, optimizer="adamw", lr=5e-3, weight_decay=1e-4,
                  warmup_steps=5),
    # cpu: a meaningful run of about 3 minutes on 2 cores (SmallCNN). Chosen by measurement
    # (VICReg on CIFAR-10, 150 s budgets, kNN): batch 128 beat 256 and 64 (more steps per
    # second of a small net: 0.41 vs 0.34 and 0.40); heads of width 512 beat 1024 (set per
    # method); AdamW at 2e-3 per 256 beat 1e-3 and 5e-3, LARS 0.3 and SGD; 24 px views of
    # the 32 px images beat 32 px (VICReg +2.5 and +2.8 points, BYOL +2.0) and 16 px, and a
    # wider SmallCNN did not pay for its time (multi-crop methods and AAE keep 32 px, in
    # their own defaults). The tables are in benchmarks/README.md.
    "cpu": dict(backbone="smallcnn", batch_size=128, steps=700, train_size=None,
                eval_train_size=10_000, eval_test_size=2000, log_every=25,
                checkpoint_every=100, optimizer="adamw", lr=2e-3, weight_decay=1e-4,
                warmup_steps=30, view_size=24),
    # gpu: one Colab-class GPU; ResNet-18 on CIFAR-10 for about 200 epochs at batch 512.
    "gpu": dict(backbone="resnet18", batch_size=512, steps=20_000, train_size=None,
                eval_train_size=None, eval_test_size=None, log_every=100,
                checkpoint_every=1000, optimizer="lars", lr=0.3, weight_decay=1e-4,
                warmup_steps=1000),
}


@dataclass
class TrainConfig:
    """Everything that decides a run. `None` means "the method's / profile's default"."""

    method: str = "vicreg"
    data: str = "shapes"              # sslkit.data.DATASETS
    data_root: str | None = None      # folder for cifar10/cifar100/stl10/imagefolder
    profile: str = "smoke"            # smoke | cpu | gpu (see PROFILES)
    backbone: str | None = None       # sslkit.models.BACKBONES
    norm: str = "bn"                  # backbone normalisation: bn | gn_ws | none
    backbone_args: dict[str, Any] = field(default_factory=dict)  # e.g. {"widths": [...]}
    batch_size: int | None = None
    steps: int | None = None          # optimiser steps in the whole run
    max_seconds: float | None = None  # time budget (None: off): stop once this many training
                                      # seconds are spent (evaluation and checkpoint writes
                                      # excluded); `steps` is then the schedules' length and
                                      # each step's place in them its time / max_seconds
    train_size: int | None = None     # N training images, a fixed random draw (None: all)
    optimizer: str | None = None      # sgd | adamw | lars
    lr: float | None = None           # base lr at batch 256; scaled linearly by batch/256
    weight_decay: float | None = None
    warmup_steps: int | None = None
    recipe: str | None = None         # augmentation recipe; None: the method's own, on
                                      # data="shapes" inside the "shapes" recipe
    recipe_args: dict[str, Any] = field(default_factory=dict)
    view_size: int | None = None      # training views' side in px (None: the profile's,
                                      # else the images'); kNN always sees whole images
    method_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"           # auto (bf16 on CUDA, fp32 elsewhere) | fp32 | bf16
    channels_last: bool | None = None # None: on for CUDA and CPU (not MPS)
    compile: bool = False             # torch.compile the method (pays off on long GPU runs)
    log_every: int | None = None
    eval_every: int = 0               # kNN during training every N steps (0: only at the end)
    stop_at_knn: float | None = None  # stop at the first eval_every kNN at or above this
                                      # (time-to-target runs; None: off)
    checkpoint_every: int | None = None
    eval_train_size: int | None = None
    eval_test_size: int | None = None
    knn_k: int = 20                   # DINO eval_knn.py defaults (k=20, T=0.07)
    knn_temperature: float = 0.07
    out: str | None = None            # run folder: checkpoint.pt, results.json

    def resolved(self, method_defaults: dict[str, dict[str, Any]] | None = None) -> "TrainConfig":
        """A copy with every None filled from the method's defaults, then the profile's."""
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of "
                             f"{', '.join(PROFILES)}")
        fill = dict(PROFILES[self.profile])
        fill.update((method_defaults or {}).get(self.profile, {}))
        values = dataclasses.asdict(self)
        # the method's per-profile hyper-parameters, overridden by any the caller gave
        values["method_args"] = {**fill.pop("method_args", {}), **self.method_args}
        values["backbone_args"] = {**fill.pop("backbone_args", {}), **self.backbone_args}
        for name, value in fill.items():
            if name in values and values[name] is None:
                values[name] = value
        if values["recipe"] is None and values["data"] == "shapes":
            # the embedded shapes: the method's own views plus the augmentations that change
            # every style factor of the data (sslkit.augment.shapes_recipe); without them the
            # photo recipes leave the colours as a shortcut and nothing is learnt
            from sslkit.augment.shapes_recipe import shapes_recipe_for
            from sslkit.methods import get_method

            base = get_method(values["method"]).module.recipe
            if shapes_recipe_for(base):
                values["recipe"] = "shapes"
                values["recipe_args"] = {"base": base, **values["recipe_args"]}
        cfg = TrainConfig(**values)
        for name in ("batch_size", "steps"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
        if cfg.max_seconds is not None and not cfg.max_seconds > 0:
            raise ValueError(f"max_seconds must be a positive number of seconds, got "
                             f"{cfg.max_seconds}; leave it None for a run of `steps` steps")
        if cfg.stop_at_knn is not None and not cfg.eval_every:
            raise ValueError(f"stop_at_knn={cfg.stop_at_knn} needs kNN evaluations during "
                             f"training: set eval_every (e.g. 250)")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def with_added_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """A config stored by a checkpoint or a results file, as TrainConfig.to_dict() would be now.

    A field added to TrainConfig after the run was stored (`backbone_args`, `view_size`) is
    missing from it; the run had that field's default, so it is filled in with it.
    """
    return {**TrainConfig().to_dict(), **stored}


def explain(cfg: TrainConfig, method_defaults: dict[str, dict[str, Any]] | None = None,
            method_config: type | None = None) -> list[tuple[str, Any, str]]:
    """Every value of `cfg.resolved(method_defaults)` with the layer it came from, in the order
    `resolved` applies them: given (the caller) > the method's train_defaults[profile] >
    PROFILES[profile] > TrainConfig's own default. Method hyper-parameters are listed one by
    one as `method_args.NAME`, down to their dataclass default (`method_config`).
    (`python -m sslkit config --method byol --profile cpu` prints this.)
    """
    resolved = cfg.resolved(method_defaults)
    profile = PROFILES[cfg.profile]
    method = (method_defaults or {}).get(cfg.profile, {})
    module = (method_config.__module__.replace(".", "/") + ".py" if method_config
              else "the method's file")
    where_method = f"train_defaults['{cfg.profile}'] ({module})"
    where_profile = f"PROFILES['{cfg.profile}'] (sslkit/train/config.py)"
    rows = []
    for f in dataclasses.fields(TrainConfig):
        name = f.name
        value = getattr(resolved, name)
        if name in ("method_args", "backbone_args"):
            continue
        given = getattr(cfg, name)
        if given is not None and given == value and given != _default(f):
            source = "given"
        elif name in ("recipe", "recipe_args") and resolved.recipe == "shapes" and cfg.recipe is None:
            source = "data is shapes: the shapes recipe (TrainConfig.resolved)"
        elif given is None and name in method:
            source = where_method
        elif given is None and name in profile:
            source = where_profile
        else:
            source = "TrainConfig default"
        rows.append((name, value, source))
    for group, config in (("method_args", method_config), ("backbone_args", None)):
        given, from_method = getattr(cfg, group), method.get(group, {})
        declared = [f.name for f in dataclasses.fields(config)] if config else []
        names = list(dict.fromkeys([*declared, *from_method, *given]))
        for key in names:
            if key in given:
                rows.append((f"{group}.{key}", given[key], "given"))
            elif key in from_method:
                rows.append((f"{group}.{key}", from_method[key], where_method))
            else:
                field = next(f for f in dataclasses.fields(config) if f.name == key)
                rows.append((f"{group}.{key}", _default(field),
                             f"{config.__name__} default ({module})"))
    return rows


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()
