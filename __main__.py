"""inferentia-chat: load the validated stack config, build the stack for its role, export outputs."""

import sys
from pathlib import Path

# components/ is the source root of the library package `inferentia_chat` (pyproject.toml package-dir).
sys.path.insert(0, str(Path(__file__).resolve().parent / "components"))

import pulumi

from stacks import build
from stacks.config import load_config

config = load_config()  # raises ConfigError (listing every problem) before any resource exists
for key, value in build(config).items():
    pulumi.export(key, value)
