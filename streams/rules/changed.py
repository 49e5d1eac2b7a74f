"""`changed(record, **fields)`: `dataclasses.replace` for the rules' frozen dataclasses, at a
fraction of its cost. It runs several times per event; `replace` walks every field and calls
`__init__`, which sets each one through `object.__setattr__` (measured on an issue's state, 24
fields: 5.5 µs against 0.7 µs here for three changes, 1.7 µs for the 21 of `evolve_facts`)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def _plain_fields(cls: type) -> frozenset[str] | None:
    """The field names of a dataclass whose instance is its `__dict__` and nothing more (no
    `__post_init__`, every field set by `__init__`, not slotted); None for any other class."""
    if not is_dataclass(cls) or hasattr(cls, "__post_init__") or not cls.__dictoffset__:
        return None
    every = fields(cls)
    if not all(f.init for f in every):
        return None
    return frozenset(f.name for f in every)


def changed(obj: T, /, **changes: Any) -> T:
    names = _plain_fields(type(obj))
    if names is None or not changes.keys() <= names:
        return replace(obj, **changes)  # type: ignore[type-var]  # (and its TypeError for a wrong name)
    new = object.__new__(type(obj))
    state = obj.__dict__.copy()
    state.update(changes)
    object.__setattr__(new, "__dict__", state)
    return new
