"""Host the inferentia-chat components as a Pulumi plugin (schema inferred from type annotations)."""

import sys
from pathlib import Path

# The plugin lives in the repository beside the library it hosts: components/ is the library's source root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "components"))

from pulumi.provider.experimental import component_provider_host

import inferentia_chat

if __name__ == "__main__":
    component_provider_host(
        name="inferentia-chat", components=list(inferentia_chat.COMPONENTS), version=inferentia_chat.__version__
    )
