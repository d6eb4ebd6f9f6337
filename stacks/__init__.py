"""Composition: which component feeds which, one module per stack role."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# components/ is the library's source root (the `inferentia_chat` package), as for the program (__main__.py),
# so `python -m stacks.config.docs` runs from a checkout too.
LIBRARY_ROOT = str(Path(__file__).resolve().parent.parent / "components")
if LIBRARY_ROOT not in sys.path:
    sys.path.insert(0, LIBRARY_ROOT)

from stacks.config import StackConfig  # noqa: E402 - after the library root is on the path


def build(cfg: StackConfig) -> dict[str, Any]:
    """Build the stack for the configured role; returns the outputs to export."""
    if cfg.role == "dr":
        from .dr import build_dr

        return build_dr(cfg)
    from .primary import build_primary

    return build_primary(cfg)
