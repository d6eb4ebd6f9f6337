"""docs/configuration.md is generated from the schema: regenerating it changes nothing, and every key a
section reads is described (with what changing it does)."""

from __future__ import annotations

from stacks.config.descriptions import KEY_DOCS
from stacks.config.docs import DOCS_FILE, TOP_LEVEL, key_specs, render_docs
from stacks.config.schema import CONFIG_NAMESPACE


def test_the_configuration_reference_is_not_stale():
    assert DOCS_FILE.read_text() == render_docs(), (
        "docs/configuration.md is stale: run `venv/bin/python -m stacks.config.docs` and commit the result"
    )


def test_every_key_is_described_and_every_description_is_a_key():
    read = {s.path.removeprefix(f"{CONFIG_NAMESPACE}:") for s in key_specs()}
    sections = {path.split(".", 1)[0] for path in read}
    undescribed = sorted(read - set(KEY_DOCS))
    assert not undescribed, f"describe these keys in stacks/config/descriptions.py: {undescribed}"
    stale = sorted(set(KEY_DOCS) - read - sections - {key for key, _, _ in TOP_LEVEL})
    assert not stale, f"descriptions of keys no section reads: {stale}"
    assert all(on_change for key, (_, on_change) in KEY_DOCS.items() if key in read)


def test_the_reference_lists_every_key_with_its_default():
    text = render_docs()
    for spec in key_specs():
        path = spec.path.removeprefix(f"{CONFIG_NAMESPACE}:")
        assert f"| `{path}` |" in text, path
    assert "| `model.tensorParallelSize` | integer | `2` |" in text
    assert "| `network.natGateways` | string | `one-per-az` |" in text
