#!/usr/bin/env bash
# pip-install this repository into a brand-new virtual environment and import every public component
# from the installed package (not from the source tree).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root" "$work/src"
rm -rf "$work/src/venv" "$work/src/venv-tools" "$work/src/build" "$work/src/.git"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$work/src"
cd "$work"  # away from the source tree, so only the installed package can be imported
"$work/venv/bin/python" - <<'PY'
import importlib.util
import inspect

import pulumi
import inferentia_chat

public = [getattr(inferentia_chat, name) for name in inferentia_chat.__all__]
components = [c for c in public if inspect.isclass(c) and issubclass(c, pulumi.ComponentResource)]
assert components and set(components) == set(inferentia_chat.COMPONENTS), components
for c in components:
    assert c.__doc__, f"{c.__name__} has no docstring"
# The model-load Job's pinned wheels ship with the package (the ConfigMap carries them).
import importlib.resources
assert (importlib.resources.files("inferentia_chat.model_store") / "loader-requirements.txt").is_file()
# The program's own modules (stacks/, with its config/) stay out of the library wheel.
assert not any(importlib.util.find_spec(name) for name in ("components", "config", "stacks")), "program code shipped"
print(f"inferentia_chat {inferentia_chat.__version__}: " + ", ".join(c.__name__ for c in components))
PY
