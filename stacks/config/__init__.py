"""The program's stack configuration: read once, validated whole, typed (not part of the component library).

`load_config()` reads the Pulumi configuration and returns one frozen `StackConfig`, or raises one
`ConfigError` listing every problem before any resource exists.
"""

from .sections import (
    CONFIG_NAMESPACE,
    SECRET_KEYS,
    ConfigError,
    StackConfig,
    decode_value,
    load_config,
    parse_config,
)

__all__ = [
    "CONFIG_NAMESPACE",
    "SECRET_KEYS",
    "ConfigError",
    "StackConfig",
    "decode_value",
    "load_config",
    "parse_config",
]
