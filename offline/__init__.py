"""The offline engine (Pulumi mocks with realistic cloud answers) and the render command."""

import sys
from pathlib import Path

# components/ is the library's source root (the `inferentia_chat` package), as for the program (__main__.py).
LIBRARY_ROOT = str(Path(__file__).resolve().parent.parent / "components")
if LIBRARY_ROOT not in sys.path:
    sys.path.insert(0, LIBRARY_ROOT)
