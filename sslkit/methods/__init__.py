"""One file per method; `METHODS` maps the command-line name to its MethodSpec."""

from __future__ import annotations

from sslkit.methods.spec import MethodSpec, StepOutput
from sslkit.methods import vicreg

METHODS: dict[str, MethodSpec] = {
    "vicreg": vicreg.SPEC,
}


def get_method(name: str) -> MethodSpec:
    """The MethodSpec registered as `name`; a clear error lists the valid names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: "
                         f"{', '.join(sorted(METHODS))}") from None


__all__ = ["METHODS", "MethodSpec", "StepOutput", "get_method"]
