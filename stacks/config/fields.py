"""The reader API every config section is parsed with: typed getters that record problems, never raise.

A section function asks its `_Section` for each key (`string`, `integer`, `boolean`, `strings`, `section`)
and calls `finish()` at the end, which reports every key nobody asked for (a typo must never fall back to a
default). Each problem is ONE line: `<key as written> = <value>: <what is allowed>`.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pulumi

from .rules import control_characters

# What a value looks like in a message: long values are cut (one line per problem, never a wall of text).
_SHOWN_MAX = 120


class ConfigError(pulumi.RunError, ValueError):
    """The stack configuration is invalid; the message lists every problem.

    A `pulumi.RunError`, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem{'s' * (len(problems) > 1)}):\n{lines}")


_MISSING = object()


@dataclass(frozen=True)
class KeySpec:
    """What a section asked for one key: the documentation (docs/configuration.md) is generated from these."""

    path: str
    kind: str  # string | integer | boolean | list | object
    default: Any
    allowed: str = ""
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None


_recording: list[KeySpec] | None = None


@contextlib.contextmanager
def recording() -> Iterator[list[KeySpec]]:
    """Collect the KeySpec of every key the sections read while the block runs (docs generation)."""
    global _recording
    _recording = found = []
    try:
        yield found
    finally:
        _recording = None


def _show(value: Any) -> str:
    """One line, whatever the value: strings quoted with escapes (a newline shows as \\n), the rest as JSON."""
    shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=True)
    return shown if len(shown) <= _SHOWN_MAX else shown[: _SHOWN_MAX - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Problems:
    def __init__(self, secret_paths: tuple[str, ...] = ()) -> None:
        self.items: list[str] = []
        # Keys held as secrets: no value under them is ever shown (a nested `secure:` value makes the whole
        # top-level key a secret).
        self.secret_paths = secret_paths

    def add(self, path: str, value: Any, allowed: str, *, secret: bool = False) -> None:
        secret = secret or any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in self.secret_paths)
        shown = "[hidden]" if secret else _show(value)
        self.items.append(_one_line(f"{path} = {shown}: {allowed}"))

    def missing(self, path: str, allowed: str) -> None:
        self.items.append(_one_line(f"{path} is required: {allowed}"))


class _Section:
    """One config object: typed getters that record problems and return a usable default."""

    def __init__(self, path: str, raw: Any, problems: _Problems):
        self.path = path
        self.problems = problems
        self.used: set[str] = set()
        if raw is _MISSING:
            raw = {}
        elif raw is None:
            problems.add(path, raw, "must be an object (a YAML mapping of keys); remove the key to take the defaults")
            raw = {}
        if not isinstance(raw, dict):
            problems.add(path, raw, "must be an object (a YAML mapping of keys)")
            raw = {}
        self.raw: dict[str, Any] = raw

    def key(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return key in self.raw

    def _get(self, key: str, kind: str = "", default: Any = None, **spec: Any) -> Any:
        self.used.add(key)
        if _recording is not None and kind:
            _recording.append(KeySpec(self.key(key), kind, default, **spec))
        return self.raw.get(key, _MISSING)

    def _check(self, key: str, value: Any, default: Any, ok: bool, allowed: str) -> Any:
        if not ok:
            self.problems.add(self.key(key), value, allowed)
            return default
        return value

    def string(
        self,
        key: str,
        default: str | None,
        *,
        choices: tuple[str, ...] | None = None,
        pattern: re.Pattern[str] | None = None,
        allowed: str = "",
        required: bool = False,
    ) -> str | None:
        """A string; `pattern` must match the WHOLE value (and a patterned value is ASCII only)."""
        value = self._get(key, "string", default, allowed=allowed, choices=choices)
        if value is _MISSING:
            if required:
                self.problems.missing(self.key(key), allowed or f"one of {', '.join(choices or ())}")
            return default
        if not isinstance(value, str):
            return self._check(key, value, default, False, f"must be a string; {allowed}".rstrip("; "))
        if control_characters(value):
            return self._check(key, value, default, False, f"must not hold a newline or control character; {allowed}")
        if choices is not None and value not in choices:
            return self._check(key, value, default, False, f"must be one of {', '.join(choices)}")
        if pattern is not None and not (value.isascii() and pattern.fullmatch(value)):
            return self._check(key, value, default, False, allowed)
        return value

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None, allowed: str = ""
    ) -> int:
        value = self._get(key, "integer", default, allowed=allowed, minimum=minimum, maximum=maximum)
        if value is _MISSING:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            return self._check(key, value, default, False, f"must be a whole number {allowed}".rstrip())
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            return self._check(key, value, default, False, f"must be {bounds} {allowed}".rstrip())
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, "boolean", default)
        if value is _MISSING:
            return default
        return self._check(key, value, default, isinstance(value, bool), "must be true or false")

    def strings(
        self,
        key: str,
        default: tuple[str, ...],
        *,
        item: Callable[[str], str | None],
        min_items: int = 0,
        max_items: int | None = None,
        unique: bool = True,
    ) -> tuple[str, ...]:
        """A list of strings; `item` returns None when an element is fine, else what is allowed."""
        value = self._get(key, "list", list(default), minimum=min_items or None, maximum=max_items)
        if value is _MISSING:
            return default
        if not isinstance(value, list):
            return self._check(key, value, default, False, "must be a list")
        ok = True
        for i, element in enumerate(value):
            if not isinstance(element, str):
                problem: str | None = "must be a string"
            elif control_characters(element):
                problem = "must not hold a newline or control character"
            else:
                problem = item(element)
            if problem:
                self.problems.add(f"{self.key(key)}[{i}]", element, problem)
                ok = False
        if ok and len(value) < min_items:
            self.problems.add(self.key(key), value, f"must list at least {min_items} item(s)")
            ok = False
        if ok and max_items is not None and len(value) > max_items:
            self.problems.add(self.key(key), value, f"must list at most {max_items} items")
            ok = False
        if ok and unique and len(set(value)) != len(value):
            self.problems.add(self.key(key), value, "must not repeat an item")
            ok = False
        return tuple(value) if ok else default

    def section(self, key: str) -> _Section:
        return _Section(self.key(key), self._get(key, "object", {}), self.problems)

    def finish(self) -> None:
        """Report keys nobody read: typos and keys from other versions."""
        for key in sorted(set(self.raw) - self.used, key=str):
            hint = difflib.get_close_matches(str(key), sorted(self.used), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.problems.add(
                self.key(str(key)),
                self.raw[key],
                f"unknown key{suggestion}; allowed keys: {', '.join(sorted(self.used))}",
            )
