"""The program's stack configuration: read once, validated whole, typed (not part of the component library).

`load_config()` reads the Pulumi configuration and returns one frozen `StackConfig`, or raises one
`ConfigError` listing every problem before any resource exists. Modules: schema (the typed config and its
choices), fields (the `_Section` reader every section uses), rules (patterns and limits, with sources),
sections / pool / model / standby / tags (one function per section, cross-field rules), reader (stack files and the
Pulumi runtime), zones (the checks that need the region's zones), docs (docs/configuration.md).
"""

from .fields import ConfigError
from .reader import decode_value, load_config, read_stack_yaml
from .schema import CONFIG_NAMESPACE, StackConfig
from .sections import SECRET_KEYS, TOP_LEVEL_KEYS, parse_config

__all__ = [
    "CONFIG_NAMESPACE",
    "SECRET_KEYS",
    "TOP_LEVEL_KEYS",
    "ConfigError",
    "StackConfig",
    "decode_value",
    "load_config",
    "parse_config",
    "read_stack_yaml",
]
