"""JSON text through ``orjson`` that is what the standard library's ``json`` would write.

``orjson`` writes the plain JSON values (dicts with string keys, lists, strings, ints, floats,
booleans, None) as ``json`` does — the same escapes with ``ensure_ascii=False``, the same
separators ``(",", ":")``, keys sorted alike with ``OPT_SORT_KEYS`` — except in a few places,
which :func:`walker`'s walk refuses (:class:`NotPlain`) so that the caller falls back to ``json``:

- floats outside ``[1e-4, 1e16)`` (``1e16`` for ``1e+16``, ``0.000015`` for ``1.5e-05``) and
  non-finite ones (``null`` for ``NaN``);
- keys that are not strings (``json`` writes ``1`` as ``"1"``, ``orjson`` refuses them);
- subclasses of the JSON types (``orjson`` writes an ``Enum`` by its value), and any other type
  the caller's ``leaf`` does not turn into plain values (``json`` asks its ``default``).

``orjson`` itself refuses integers beyond 64 bits and lone surrogates (``orjson.JSONEncodeError``):
fall back on that too. The walk is worth it where ``json`` would call a Python ``default`` for
many values (dates): a provider's state or standing is tens of kilobytes of them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class NotPlain(Exception):
    """A value whose JSON text ``orjson`` could write otherwise than ``json``: use ``json``."""


def walker(leaf: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A function that returns its argument as plain JSON values (a new structure; tuples become
    lists), with ``leaf(value)`` for every value of another type (which returns plain values, or
    raises :class:`NotPlain`), or raises :class:`NotPlain` (see the module)."""

    def walk(value: Any) -> Any:
        t = type(value)
        if t is dict:
            plain = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise NotPlain
                u = type(item)
                plain[key] = item if u is str or u is int or u is bool or item is None else walk(item)
            return plain
        if t is list or t is tuple:
            return [item if type(item) is str else walk(item) for item in value]
        if t is str or t is int or t is bool or value is None:
            return value
        if t is float:
            if value == 0.0 or 1e-4 <= abs(value) < 1e16:  # written as repr() writes them (NaN fails both)
                return value
            raise NotPlain
        return leaf(value)

    return walk
