"""Name tables: turn a name from a config, a log or the command line into a function.

Functions are the currency of nnjax; names exist only so that a configuration can be written to a
log and read back. A registry accepts either a callable (used as is, named by ``__name__``) or a
name it knows, and refuses anything else with a message listing what is allowed.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    """A small name → function table for one kind of function (activation, cost, ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._table: dict[str, F] = {}

    def register(self, fn: F, name: str | None = None) -> F:
        self._table[name or fn.__name__] = fn
        return fn

    def names(self) -> list[str]:
        return sorted(self._table)

    def get(self, name_or_fn: str | F) -> F:
        """The function for a name, or the callable itself."""
        if callable(name_or_fn):
            return name_or_fn
        if isinstance(name_or_fn, str):
            key = name_or_fn.strip().lower().replace("-", "_")
            if key in self._table:
                return self._table[key]
            raise ValueError(
                f"unknown {self.kind} {name_or_fn!r}; allowed: {', '.join(self.names())} "
                f"(or pass a function)")
        raise TypeError(
            f"{self.kind} must be a name ({', '.join(self.names())}) or a function, "
            f"got {type(name_or_fn).__name__}")

    def name_of(self, fn: str | F) -> str:
        """The name a function is known by (its registry name, else its ``__name__``)."""
        if isinstance(fn, str):
            self.get(fn)
            return fn.strip().lower().replace("-", "_")
        for name, known in self._table.items():
            if known is fn:
                return name
        return getattr(fn, "__name__", repr(fn))
