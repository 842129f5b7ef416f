"""What the notebooks share: the setup cell's logic and a few plots.

Kept in the package (not in the notebooks) so that all chapters set up, seed and plot the
same way, and so that a reader on Colab gets the same behaviour as on a laptop.
"""

from __future__ import annotations

import platform
import random
from dataclasses import dataclass

import torch

from sslkit.experiments import current_profile

# The one place the repository is named in code; tests check it equals _config.yml's.
REPOSITORY = "https://github.com/sslkit/sslkit"


# How long each chapter experiment trains, per profile. Two sizes:
#
# - CHAPTER_RUN, the quick runs: claims that show within minutes (collapse, stop-gradient,
#   centring and sharpening, the redundancy matrix). On 2 CPU cores a two-view SmallCNN run
#   of 300 steps takes about 2 minutes, so a reader redoes a chapter's quick runs in 10-25
#   minutes. They train on whole 32 px views, as the papers do (the `cpu` profile's 24 px
#   views buy steps in a time budget, but would change what chapters 1, 4 and 7 measure:
#   crop statistics, per-stage feature maps, local crops).
# - LONG_RUN: claims about *learning* (BYOL learns, its EMA rate, BatchNorm; SimSiam learns;
#   the comparison). A 300-step run cannot tell such a network from an untrained one: BYOL
#   scored kNN 0.361 against 0.345 untrained. 3,000 steps at the profile's own view size
#   (24 px for two-view methods) take 15-25 minutes each on 2 cores, and kNN is measured
#   every 1,000 steps so a chapter can say when a run leaves the untrained network.
#
# Both evaluate every stored run the same way at cpu and gpu: kNN with the whole CIFAR-10
# training set as the bank and the whole test set as queries (DINO's eval_knn.py protocol);
# Setup.knn_gap is the noise of that evaluation. smoke keeps the profile's own size (CI).
# (None would mean "the profile's default", 10,000 / 2,000 at cpu; a size at least the
# set's keeps every image: train.loop.random_subset)
FULL_KNN = dict(eval_train_size=50_000, eval_test_size=10_000)
CHAPTER_RUN = {
    "smoke": {},
    "cpu": dict(steps=300, warmup_steps=15, log_every=10, checkpoint_every=50, view_size=32,
                **FULL_KNN),
    "gpu": dict(steps=3000, warmup_steps=300, log_every=50, checkpoint_every=500,
                **FULL_KNN),
}
LONG_RUN = {
    "smoke": {},
    "cpu": dict(steps=3000, warmup_steps=100, log_every=50, checkpoint_every=250,
                eval_every=1000, **FULL_KNN),
    "gpu": dict(steps=10_000, warmup_steps=500, log_every=100, checkpoint_every=1000,
                eval_every=2500, **FULL_KNN),
}
# - LAB: the shapes laboratory (chapters 1 and 3): VICReg-sized runs on the embedded shapes
#   with the "shapes" recipe, where content and style are known and the effect of a recipe
#   shows in 150 steps of 64 images (under a minute on 2 cores). The same at every profile:
#   the smoke size *is* the real experiment here. Probed with `evaluate.probe_model` on the
#   2,048 / 1,000 images evaluated below.
LAB_RUN = dict(batch_size=64, steps=150, lr=5e-3, warmup_steps=5, train_size=2048,
               eval_train_size=2048, eval_test_size=1000, log_every=10, view_size=32,
               recipe="shapes")
RUN_SIZES = {"quick": CHAPTER_RUN, "long": LONG_RUN,
             "lab": {profile: LAB_RUN for profile in CHAPTER_RUN}}


@dataclass(frozen=True)
class Setup:
    profile: str
    device: torch.device
    seed: int

    @property
    def knn_gap(self) -> float:
        """The smallest kNN difference the chapters call real at this profile.

        Two standard errors of the difference of two accuracies near 0.5, each measured on
        the chapter runs' test queries: 2 * sqrt(2 * 0.25 / n), 0.014 for the whole CIFAR-10
        test set (n = 10,000; 0.032 with the 2,000 queries stored runs used before). A
        smaller gap between two runs is within the noise of the evaluation.
        """
        from sslkit.train.config import PROFILES

        n = CHAPTER_RUN[self.profile].get("eval_test_size",
                                          PROFILES[self.profile]["eval_test_size"])
        return noise_gap(min(n or 10_000, 10_000))  # the CIFAR-10 test set is 10,000

    def config(self, method: str, size: str = "quick", **fields):
        """A chapter experiment's TrainConfig: this profile at a chapter run size.

        size: "quick" (CHAPTER_RUN), "long" (LONG_RUN, for claims about learning) or "lab"
        (LAB_RUN: the shapes laboratory, the same at every profile). Any
        field given here wins, e.g. `S.config("byol", "long", batch_size=64, steps=6000)`.
        """
        from sslkit.train import TrainConfig

        if size not in RUN_SIZES:
            raise ValueError(f"size {size!r} is not one of {', '.join(RUN_SIZES)}")
        return TrainConfig(method=method, profile=self.profile,
                           **{**RUN_SIZES[size][self.profile], **fields})

    # The course's one definition of each word its verdicts use. Every chapter calls these,
    # so "learns" means the same thing in chapter 5 as in chapter 12.

    def learns(self, knn: float, untrained: float) -> bool:
        """A run *learns* when its kNN beats the untrained backbone's by more than the noise."""
        return knn > untrained + self.knn_gap

    def better(self, knn_a: float, knn_b: float) -> bool:
        """Run a is *better* than run b when its kNN is higher by more than the noise."""
        return knn_a > knn_b + self.knn_gap

    def no_difference(self, knn_a: float, knn_b: float) -> bool:
        """Two runs show *no difference* when their kNN accuracies are within the noise."""
        return abs(knn_a - knn_b) <= self.knn_gap

    def __str__(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" \
            else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
        return f"profile={self.profile}  device={name}  seed={self.seed}  torch={torch.__version__}"


def noise_gap(n: int) -> float:
    """Two standard errors of the difference of two accuracies near 0.5, each measured on n
    test images: 2 * sqrt(2 * 0.25 / n). A smaller difference is within the noise."""
    return 2 * (0.5 / n) ** 0.5


def collapsed(std_l2: float, dim: int, *, mean_std: float | None = None) -> bool:
    """*Complete collapse*, the course's one definition: every image is mapped to (nearly)
    one point, so the embedding no longer says which image it came from. Two ways to get
    there, read from the embedding z the loss sees:

    - one direction: the std of the l2-normalised z, which is 1/sqrt(d) for embeddings
      spread over the sphere (SimSiam, Sec. 4.1), falls below a fifth of that;
    - one small ball, for losses that are not scale-invariant (VICReg without its variance
      term, an MSE between views): z's mean per-dimension std `mean_std`, where the chapter
      has it, falls below 0.1 (VICReg's variance hinge, whose target is 1, above 0.9).
      The directions of such a shrinking cloud can stay spread (chapter 3: effective rank
      162 while shrinking to the origin), so the first test alone would miss it.

    Dimensional collapse (a few directions used) is a different failure; the chapters read
    it from the effective rank, against a healthy run's.
    """
    return std_l2 < 0.2 / dim ** 0.5 or (mean_std is not None and mean_std < 0.1)


def setup(seed: int = 0) -> Setup:
    """Seed everything and pick the run size: `SSLKIT_PROFILE`, else gpu/cpu by hardware."""
    random.seed(seed)
    torch.manual_seed(seed)
    profile = current_profile()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    import matplotlib
    matplotlib.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "figure.figsize": (7, 3.2),
                                "axes.spines.top": False, "axes.spines.right": False})
    return Setup(profile=profile, device=device, seed=seed)


def load_data(setup: Setup):
    """The chapters' (train, test) data: CIFAR-10 for real runs, the embedded shapes for smoke.

    At the cpu and gpu profiles CIFAR-10 is read from $SSLKIT_DATA/cifar10 (a JPEG folder copy
    or torchvision's release), downloaded there if missing (Colab, or any machine online).
    Offline without a copy, the chapter falls back to shapes and says so: its numbers then
    differ from the book's, which were measured on CIFAR-10.
    """
    from sslkit import data

    if setup.profile == "smoke":
        return data.load("shapes"), data.load("shapes", split="test")
    try:
        return data.load("cifar10"), data.load("cifar10", split="test")
    except FileNotFoundError:
        pass
    try:
        return (data.load("cifar10", download=True),
                data.load("cifar10", split="test", download=True))
    except RuntimeError as error:
        print(f"CIFAR-10 is not available ({error})\nFalling back to the embedded shapes "
              f"data set: the chapter runs, but its numbers will not match the book's.")
        return data.load("shapes"), data.load("shapes", split="test")


def show_images(images: torch.Tensor, *, nrow: int = 8, title: str | None = None, ax=None,
                mean=None, std=None):
    """A grid of uint8 (N, 3, H, W) images, or normalised float views with mean/std given."""
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        if mean is not None:
            x = x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    grid = make_grid(x, nrow=nrow, padding=1, pad_value=255)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(nrow, 12), 1.1 * ((len(x) + nrow - 1) // nrow)))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_views(images: torch.Tensor, views: dict, *, mean, std):
    """The chapters' "data and views" figure: a row of uint8 images, then one row per view.

    views: {title: normalised float views of the same images} (mean/std undo the
    normalisation for display).
    """
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1 + len(views), 1, figsize=(8, 1.15 + 1.15 * len(views)))
    show_images(images, ax=axes[0], title="images")
    for ax, (title, v) in zip(axes[1:], views.items()):
        show_images(v, ax=ax, title=title, mean=mean, std=std)
    plt.tight_layout()


def plot_curves(experiments: dict, quantity: str, *, ax=None, reference: float | None = None,
                reference_label: str | None = None, logy: bool = False, title: str | None = None):
    """One line per experiment of a logged quantity against the step."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for label, exp in experiments.items():
        steps, values = exp.series(quantity)
        ax.plot(steps, values, label=label)
    if reference is not None:
        ax.axhline(reference, color="gray", ls="--", lw=1, label=reference_label)
    ax.set_xlabel("step")
    ax.set_ylabel(quantity)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return ax


def results_table(experiments: dict, columns=("knn_top1", "std_l2", "rank")) -> str:
    """A Markdown table of final metrics, with where each number came from."""
    head = "| run | " + " | ".join(columns) + " | profile | device | train time |"
    rule = "|---" * (len(columns) + 4) + "|"
    rows = [head, rule]
    for label, exp in experiments.items():
        cells = [f"{exp.metrics.get(c, float('nan')):.3f}" for c in columns]
        rows.append(f"| {label} | " + " | ".join(cells) +
                    f" | {exp.profile} | {exp.device} | {exp.wall_s:.0f} s |")
    return "\n".join(rows)


def run_lengths(experiments: dict, chapter: str) -> str:
    """How long a chapter's stored runs trained, and how to make them again (Markdown)."""
    # a twin ("12-byol (= 05-byol-cosine)") is the run stored under its second key: count once
    runs = {exp.key.split("(= ")[-1].rstrip(")"): exp for exp in experiments.values()}
    steps = sorted({int(exp.config["steps"]) for exp in runs.values()})
    devices = sorted({exp.device for exp in runs.values()})
    minutes = sum(exp.wall_s for exp in runs.values()) / 60
    profile = next(iter(runs.values())).profile
    return (f"**Runs behind these numbers:** {len(runs)} runs of "
            f"{' / '.join(f'{s:,}' for s in steps)} steps at profile `{profile}`, "
            f"{minutes:.0f} minutes of training in all on {', '.join(devices)}. To make them "
            f"again: `SSLKIT_RERUN=1 python notebooks/build.py {chapter} --execute "
            f"--profile {profile}`; without `SSLKIT_RERUN` the stored results are reused.")


def show_source(obj) -> "object":
    """The package's own source of `obj`, shown as a code block (the book never copies code)."""
    import inspect

    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")


# this kernel's verdicts by claim, for the summary: re-running a cell replaces its verdict
_VERDICTS: dict[str, tuple[bool, str]] = {}


def verdict(claim: str, reproduced: bool, evidence: str) -> str:
    """One line that says whether our run reproduced a claim, with the numbers behind it."""
    reproduced = bool(reproduced)
    _VERDICTS[claim] = (reproduced, evidence)
    mark = "REPRODUCED" if reproduced else "NOT REPRODUCED"
    line = f"[{mark}] {claim} — {evidence}"
    print(line)
    return line


def verdict_summary(setup: Setup | None = None):
    """Every claim this chapter checked, reproduced or not, as one Markdown table.

    Computed from the verdicts of this run, so a claim that did not reproduce at this
    profile is listed as such, with its numbers, rather than left out.
    """
    from IPython.display import Markdown

    done = sum(ok for ok, _ in _VERDICTS.values())
    rows = ["| | claim | evidence from this run |", "|---|---|---|"]
    rows += [f"| {'✓' if ok else '✗'} | {claim} | {evidence} |"
             for claim, (ok, evidence) in _VERDICTS.items()]
    where = f" at profile `{setup.profile}`" if setup is not None else ""
    note = ("" if done == len(_VERDICTS) else
            " A ✗ is a claim our run did not show; the text above says what was tried and "
            "what may explain it (most often: a run far shorter than the paper's).")
    return Markdown(f"**{done} of {len(_VERDICTS)} claims reproduced{where}.**{note}\n\n"
                    + "\n".join(rows))


def random_init_knn(cfg, train_data, test_data) -> float:
    """kNN top-1 of `cfg`'s backbone at its random initialisation: the floor a run must beat.

    The run's own set-up (`train.loop.set_up`: the same training subset, normalisation,
    seed for the weights) and its own evaluation (bank and queries), without a step.
    """
    from sslkit.train.loop import set_up

    return set_up(cfg, train_data, test_data).knn()
