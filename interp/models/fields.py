"""Config dataclasses from YAML or JSON mappings, every field checked before the class is built.

The checks come from the class itself: the annotation gives the type (`Literal` for allowed
values, `int`, `float` (finite), `Number` (any float, nan included), `bool`, `str`, lists, dicts
(`dict[float, X]` reads JSON's string keys "0.5" as floats), `X | None`, nested dataclasses) and a
field's metadata adds the rest (`at_least`, `above`, `one_of` a registry, and `check`: a callable
`(value, path)` raising ValueError, or FieldErrors naming the fields itself).
Every problem is reported with its field path (`eval.mode: 'jduge' is not one of choice, judge`),
all of them at once; an unknown key gets the nearest valid name. A nested section's keys are read
over its field's default: keys it leaves out keep that default's values (`cache: {layers: 3}` under a
field whose default is `CacheConfig(positions="last")` keeps positions last).

    @dataclass
    class Spec:
        batch_size: int = at_least(1, 8)
        mode: Literal["choice", "judge"] = "choice"

    spec = from_mapping(Spec, yaml.safe_load(text), "eval")
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import itertools
import math
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, NewType

__all__ = [
    "FieldErrors",
    "Number",
    "above",
    "at_least",
    "check_fields",
    "checked",
    "field_docs",
    "from_mapping",
    "literal_values",
    "one_of",
]

_MISSING = dataclasses.MISSING

Number = NewType("Number", float)
"""A float that may be nan or infinite: a measured value that can be undefined (a rate over no
samples, an interval from one value). A `float` field must be finite, as a setting must."""


class FieldErrors(ValueError):
    """Fields that do not check out; `problems` holds one line per field, each starting with its path."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _field(default: Any, default_factory: Any, **metadata: Any) -> Any:
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def at_least(low: float, default: Any = _MISSING, *, default_factory: Any = _MISSING) -> Any:
    """A field whose value (when not None) is >= `low`."""
    return _field(default, default_factory, min=low)


def above(low: float, default: Any = _MISSING, *, default_factory: Any = _MISSING) -> Any:
    """A field whose value (when not None) is > `low`."""
    return _field(default, default_factory, above=low)


def one_of(names: Callable[[], Iterable[str]], default: Any = _MISSING) -> Any:
    """A field whose value is one of the names a registry holds when the config is checked
    (`names` is called then, so a name registered later counts)."""
    return _field(default, _MISSING, choices=names)


def checked(check: Callable[[Any, str], None], default: Any = _MISSING, *, default_factory: Any = _MISSING) -> Any:
    """A field whose value `check(value, path)` also accepts (it raises ValueError or FieldErrors)."""
    return _field(default, default_factory, check=check)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string right below its annotation), whitespace folded, by field name;
    a field a base class declares carries the base's docstring. Fields without one are left out."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # no source (a class made at run time): no docstrings to read
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for statement, after in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[statement.target.id] = " ".join(after.value.value.split())
    return docs


def literal_values(hint: Any) -> tuple | None:
    """The values a `Literal` annotation allows (None included when it is optional); None when
    `hint` is not a Literal or an optional Literal."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if _is_union(hint):
        values: list = []
        for arg in typing.get_args(hint):
            inner = (None,) if arg is type(None) else literal_values(arg)
            if inner is None:
                return None
            values += inner
        return tuple(values)
    return None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _names(values: Iterable) -> str:
    return ", ".join(str(v) for v in values if v is not None)


def _nearest(value: Any, names: Iterable) -> str:
    """' (did you mean X?)' when one of `names` is close to `value`, else ''."""
    near = difflib.get_close_matches(str(value), [str(n) for n in names if n is not None], n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _not_one_of(value: Any, names: Iterable) -> str:
    names = list(names)
    return f"{value!r} is not one of {_names(names)}{_nearest(value, names)}"


class _Bad(Exception):
    """One value that does not fit its annotation."""


def _describe(hint: Any) -> str:
    if hint in (int, float, Number, bool, str):
        return {int: "an integer", float: "a number", Number: "a number", bool: "true or false", str: "a string"}[hint]
    if typing.get_origin(hint) in (list, tuple):
        return "a list"
    if typing.get_origin(hint) is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    if _is_union(hint):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    return getattr(hint, "__name__", str(hint))


def _coerce(hint: Any, value: Any, path: str, problems: list[str]) -> Any:
    """`value` as `hint` says (ints to floats, numeric strings to floats), or _Bad."""
    allowed = literal_values(hint)
    if allowed is not None:
        if not any(value == a and type(value) is type(a) for a in allowed):
            raise _Bad(_not_one_of(value, allowed))
        return value
    if hint is Any:
        return value
    if _is_union(hint):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path, problems)
            except _Bad:
                continue
        raise _Bad(f"expected {_describe(hint)}, got {value!r}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):  # built in Python: its own __post_init__ checked it
            return value
        try:
            return from_mapping(hint, value, path)
        except FieldErrors as err:
            problems += err.problems
            return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {value!r}")
        return [
            _check_one(args[0] if args else Any, item, f"{path}[{i}]", {}, problems) for i, item in enumerate(value)
        ]
    if origin is tuple and (not args or args[-1] is Ellipsis):  # tuple[X, ...]: a file's list, kept as a tuple
        if not isinstance(value, (list, tuple)):
            raise _Bad(f"expected a list, got {value!r}")
        return tuple(
            _check_one(args[0] if args else Any, item, f"{path}[{i}]", {}, problems) for i, item in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(f"expected a mapping, got {value!r}")
        return {
            _key(args[0] if args else Any, key): _check_one(
                args[1] if args else Any, item, f"{path}.{key}", {}, problems
            )
            for key, item in value.items()
        }
    return _scalar(hint, value)


def _key(hint: Any, key: Any) -> Any:
    """A mapping's key as `hint` says: JSON writes every key as a string, so float keys come back as text."""
    if hint is not float or isinstance(key, float):
        return key
    try:
        return _scalar(float, key)
    except _Bad:
        raise _Bad(f"key {key!r} is not a number") from None


def _scalar(hint: Any, value: Any) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise _Bad(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer, got {value!r}")
        return value
    if hint is Number:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"expected a number, got {value!r}")
        return float(value)
    if hint is float:
        number = value
        if isinstance(value, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                raise _Bad(f"expected a number, got {value!r}") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _Bad(f"expected a number, got {value!r}")
        if not math.isfinite(number):
            raise _Bad(f"{value!r} is not a finite number")
        return float(number)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _Bad(f"expected {_describe(hint)}, got {value!r}")
    return value


def _check_one(hint: Any, value: Any, path: str, meta: typing.Mapping, problems: list[str]) -> Any:
    """One value checked against its annotation and its field's metadata; a problem is appended
    to `problems` (and None returned) rather than raised, so every field gets looked at."""
    try:
        value = _coerce(hint, value, path, problems)
        if value is None:
            return None
        if "min" in meta and value < meta["min"]:
            raise _Bad(f"{value!r} is too small; use at least {meta['min']}")
        if "above" in meta and value <= meta["above"]:
            raise _Bad(f"{value!r} is too small; use a value above {meta['above']}")
        if "choices" in meta:
            names = list(meta["choices"]())
            if value not in names:
                raise _Bad(_not_one_of(value, names))
        if "check" in meta:
            try:
                meta["check"](value, path)
            except FieldErrors as err:  # already names its fields
                problems += err.problems
                return None
            except ValueError as err:
                raise _Bad(str(err)) from None
    except _Bad as bad:
        problems.append(f"{path}: {bad}")
        return None
    return value


def check_fields(instance: Any, path: str = "") -> None:
    """Every field of dataclass `instance` checked as `from_mapping` checks it (annotation and metadata) and
    coerced in place (an int where a float belongs becomes one); FieldErrors lists every problem. Called
    from `__post_init__`, it holds a config built in Python to the rules a config read from a file meets."""
    prefix = f"{path}." if path else ""
    hints = typing.get_type_hints(type(instance))
    problems: list[str] = []
    for spec in dataclasses.fields(instance):
        if not spec.init:
            continue
        before = len(problems)
        value = _check_one(hints[spec.name], getattr(instance, spec.name), prefix + spec.name, spec.metadata, problems)
        if len(problems) == before:
            object.__setattr__(instance, spec.name, value)  # frozen dataclasses too
    if problems:
        raise FieldErrors(problems)


def _over_default(default: Any, given: dict) -> dict:
    """A nested section's keys over its field's default instance: a key the section leaves out keeps that
    instance's value where it differs from the class's own default (`cache: {layers: 3}` keeps the
    positions of the field's default CacheConfig, not CacheConfig's)."""
    if not dataclasses.is_dataclass(default) or isinstance(default, type):
        return given
    kept = {}
    for f in dataclasses.fields(default):
        if not f.init or f.name in given:
            continue
        own = (
            f.default
            if f.default is not _MISSING
            else f.default_factory()
            if f.default_factory is not _MISSING
            else _MISSING
        )
        value = getattr(default, f.name)
        if value != own:
            kept[f.name] = value
    return {**kept, **given}


def from_mapping(cls: type, data: Any, path: str = "") -> Any:
    """An instance of dataclass `cls` from `data`, every field checked (FieldErrors lists every
    problem); fields `data` leaves out take their defaults. `path` prefixes the field names."""
    where = path or "the top level"
    if not isinstance(data, dict):
        raise FieldErrors([f"{where}: expected a mapping, got {data!r}"])
    prefix = f"{path}." if path else ""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    problems: list[str] = []
    for key in data:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown field{_nearest(key, fields)}; {where} has {', '.join(fields)}")
    values = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.default is _MISSING and spec.default_factory is _MISSING:
                problems.append(f"{prefix}{name}: required")
            continue
        before = len(problems)
        given = data[name]
        if isinstance(given, dict) and spec.default_factory is not _MISSING:
            given = _over_default(spec.default_factory(), given)
        value = _check_one(hints[name], given, prefix + name, spec.metadata, problems)
        if len(problems) == before:
            values[name] = value
    if problems:
        raise FieldErrors(problems)
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:  # the class's own cross-field checks
        lines = str(err).splitlines() or [type(err).__name__]
        raise FieldErrors([line if line.startswith(path) else f"{path}: {line}" for line in lines]) from None
