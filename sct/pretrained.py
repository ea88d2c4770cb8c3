"""The lifters shipped with the package, by name.

In a checkout they are ``checkpoint/mocap/<model>/best_epoch.bin`` with ``configs/mocap/<model>.yaml``; an
installed wheel carries the same files as package data (``sct/_checkpoints``, ``sct/_configs``).
"""

from __future__ import annotations

from pathlib import Path

# name -> (weights relative to checkpoint/mocap, config relative to configs)
PRETRAINED: dict[str, tuple[str, str]] = {
    "mocap-sct": ("sct/best_epoch.bin", "mocap/sct.yaml"),
    "mocap-dstformer": ("dstformer/best_epoch.bin", "mocap/dstformer.yaml"),
}

_PACKAGE = Path(__file__).resolve().parent
# (weights root, configs root): the wheel's package data first, then the checkout around the package
_ROOTS = ((_PACKAGE / "_checkpoints", _PACKAGE / "_configs"),
          (_PACKAGE.parent / "checkpoint" / "mocap", _PACKAGE.parent / "configs"))


def pretrained_files(name: str) -> tuple[Path, Path]:
    """``(weights, config)`` of the shipped lifter ``name``; ``ValueError`` for an unknown name or files
    that are not where the package expects them."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained lifter {name!r}; choose one of: {', '.join(PRETRAINED)}")
    weights, config = PRETRAINED[name]
    for weights_root, config_root in _ROOTS:
        if (weights_root / weights).is_file() and (config_root / config).is_file():
            return weights_root / weights, config_root / config
    raise ValueError(f"the files of pretrained lifter {name!r} are missing (looked for {weights} and {config} in "
                     f"{_ROOTS[0][0].parent} and {_ROOTS[1][0].parent.parent}); reinstall the package or restore "
                     "them from git")
