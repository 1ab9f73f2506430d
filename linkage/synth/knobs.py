"""Presets with typed knobs: ``NAME[:knob=value,...]`` specs for adversaries and traps.

A preset is a named bundle of knob defaults and a builder. A spec names a
preset and overrides some of its knobs, from the command line
(``stealth-pools:paraphrase=0.4,ips=2-5``) or from Python
(``("stealth-pools", {"paraphrase": 0.4, "ips": (2, 5)})``). Every value is
checked against its knob's type and range here, once, so a bad spec stops
the run with one ``ConfigError`` naming the preset and the knob, before any
file is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Knob:
    """One setting: ``kind`` is int, float, share (0-1), range (lo-hi ints), bool, choice or name."""

    kind: str
    doc: str
    low: float = 0.0
    high: float | None = None
    choices: tuple[str, ...] = ()

    def coerce(self, where: str, key: str, raw: Any) -> Any:
        """The typed value of ``raw``, or a ``ConfigError`` that says what was expected."""
        try:
            value = self._parse(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key} must be {self.expects()}, got {raw!r}") from None
        if self.kind in ("int", "float", "share"):
            high = 1.0 if self.kind == "share" else self.high
            if value < self.low or (high is not None and value > high):
                raise ConfigError(f"{where}: {key} must be {self.expects()}, got {raw!r}")
        if self.kind == "range":
            lo, hi = value
            if lo < self.low or hi < lo or (self.high is not None and hi > self.high):
                raise ConfigError(f"{where}: {key} must be {self.expects()}, got {raw!r}")
        if self.kind == "choice" and value not in self.choices:
            raise ConfigError(f"{where}: {key} must be {self.expects()}, got {raw!r}")
        return value

    def _parse(self, raw: Any) -> Any:
        text = raw.strip() if isinstance(raw, str) else raw
        if self.kind == "int":
            if isinstance(text, float) and not text.is_integer():
                raise ValueError
            return int(text)
        if self.kind in ("float", "share"):
            return float(text)
        if self.kind == "range":
            if isinstance(text, str):
                lo, _, hi = text.partition("-")
                return (int(lo), int(hi or lo))
            if isinstance(text, int):
                return (text, text)
            lo, hi = text
            return (int(lo), int(hi))
        if self.kind == "bool":
            if isinstance(text, bool):
                return text
            if str(text).lower() in _TRUE | _FALSE:
                return str(text).lower() in _TRUE
            raise ValueError
        text = str(text)
        if self.kind == "name" and (not text or any(c in text for c in ",:=\n")):
            raise ValueError
        return text

    def expects(self) -> str:
        if self.kind == "share":
            return "a number in [0, 1]"
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            return f"{what} >= {self.low:g}" + (f" and <= {self.high:g}" if self.high is not None else "")
        if self.kind == "range":
            return f"a range LO-HI of integers >= {self.low:g}" + (f", <= {self.high:g}" if self.high else "")
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return "a non-empty name without , : ="

    def show(self, value: Any) -> str:
        if self.kind == "range":
            return f"{value[0]}-{value[1]}" if value[0] != value[1] else str(value[0])
        if self.kind == "bool":
            return "true" if value else "false"
        return str(value)


@dataclass(frozen=True)
class Preset:
    """A named bundle: what it models (``doc``), its knobs, their defaults, and the builder that uses them."""

    name: str
    doc: str
    knobs: Mapping[str, Knob]
    defaults: Mapping[str, Any]
    build: Callable[..., Any]


def parse_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    """``"name:k=v,k=v"``, ``("name", {k: v})`` or ``{"preset": name, k: v}`` -> ``(name, raw knobs)``."""
    if isinstance(spec, str):
        name, _, rest = spec.partition(":")
        raw: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"{spec!r}: expected knob=value, got {item!r}")
            if key.strip() in raw:
                raise ConfigError(f"{spec!r}: knob {key.strip()} given twice")
            raw[key.strip()] = value.strip()
        return name.strip(), raw
    if isinstance(spec, Mapping):
        rest_map = dict(spec)
        return str(rest_map.pop("preset", "")), rest_map
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], Mapping):
        return str(spec[0]), dict(spec[1])
    raise ConfigError(f"cannot read {spec!r} as NAME[:knob=value,...]")


def resolve(spec: Any, presets: Mapping[str, Preset], what: str) -> tuple[Preset, dict[str, Any]]:
    """The preset a spec names and its full knob values (defaults overridden), all checked."""
    name, raw = parse_spec(spec)
    if name not in presets:
        raise ConfigError(f"unknown {what} {name!r} (known: {', '.join(presets)})")
    preset = presets[name]
    unknown = sorted(set(raw) - set(preset.knobs))
    if unknown:
        raise ConfigError(f"{what} {name}: unknown knob {', '.join(unknown)} (known: {', '.join(preset.knobs)})")
    values = dict(preset.defaults)
    for key, value in raw.items():
        values[key] = preset.knobs[key].coerce(f"{what} {name}", key, value)
    return preset, values


def describe(presets: Mapping[str, Preset], what: str) -> str:
    """Plain-text list of presets with their knobs and defaults (``linkage synth --list-presets``)."""
    lines = []
    for p in presets.values():
        lines.append(f"{what} {p.name}: {p.doc}")
        for key, knob in p.knobs.items():
            default = p.defaults.get(key)
            shown = "auto" if default is None else knob.show(default)
            lines.append(f"    {key:<18}{shown:<13}{knob.doc}")
        lines.append("")
    return "\n".join(lines)
