"""One file per method; `METHODS` maps the command-line name to its MethodSpec.

The order is the course's: chapter 2 (AAE) to chapter 11 (W-MSE, TWIST, CorInfoMax).
"""

from __future__ import annotations

from sslkit.methods import (aae, amdim, barlow_twins, byol, corinfomax, dino, obow,
                            self_classifier, simsiam, twist, vicreg, wmse)
from sslkit.methods.spec import MethodSpec, StepOutput

METHODS: dict[str, MethodSpec] = {
    "aae": aae.SPEC,
    "amdim": amdim.SPEC,
    "byol": byol.SPEC,
    "simsiam": simsiam.SPEC,
    "dino": dino.SPEC,
    "selfclassifier": self_classifier.SPEC,
    "barlowtwins": barlow_twins.SPEC,
    "vicreg": vicreg.SPEC,
    "wmse": wmse.SPEC,
    "twist": twist.SPEC,
    "corinfomax": corinfomax.SPEC,
    "obow": obow.SPEC,  # not in a chapter yet
}


def get_method(name: str) -> MethodSpec:
    """The MethodSpec registered as `name`; a clear error lists the valid names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: "
                         f"{', '.join(sorted(METHODS))}") from None


__all__ = ["METHODS", "MethodSpec", "StepOutput", "get_method"]
