"""Host the inferentia-chat components as a Pulumi plugin (schema inferred from type annotations)."""

import sys
from pathlib import Path

# The plugin lives in the repository beside the library it hosts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

import components

if __name__ == "__main__":
    component_provider_host(
        name="inferentia-chat", components=list(components.COMPONENTS), version=components.__version__
    )
