"""Subcommand flags generated from a job's config dataclass, so the dataclass is the one declaration.

Each field becomes a flag: its name (`batch_size` -> `--batch-size`, unless the command renames it),
its type (`Literal` -> choices, `X | None`, comma-separated lists, a `bool` -> a switch: `--x` when
it defaults to False, `--no-x` when it defaults to True), its default and its help (the field's
docstring). Nested dataclass fields add their own fields' flags. Flags left out leave the field to
its default (or to a base mapping, e.g. a `--config` file), and the values go through
`interp.models.fields.from_mapping`, the validator presets use too, with each problem named by flag.

Building flags imports the config's module (often torch): `CommandParser` adds them only when its
subcommand is parsed or its help is shown, so `interp --help` stays instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from interp.cli.common import RegistryChoices, UserError

__all__ = ["CommandParser", "ConfigFlags", "add_config_flags", "config_from", "flag_value_type"]

_KEY = "config_flags"
"""The parsed namespace's attribute holding each config's `ConfigFlags`, by class name."""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that adds deferred flags (`defer`) the first time it parses or prints help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Run `add(self)` before this parser is first used."""
        self._deferred.append(add)

    def populate(self) -> CommandParser:
        """Add every deferred flag now (tests and docs read the full parser)."""
        while self._deferred:
            self._deferred.pop(0)(self)
        return self

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.populate()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.populate()
        return super().format_help()

    def format_usage(self) -> str:
        self.populate()
        return super().format_usage()


@dataclasses.dataclass(frozen=True)
class ConfigFlags:
    """The flags a config dataclass was given, and the way back from parsed flags to the config."""

    cls: type
    flags: dict[str, str]
    """field path (`sampling.samples` for a nested field) -> its flag"""

    def values(self, args: argparse.Namespace) -> dict[str, Any]:
        """The fields the command line set, as a nested mapping of field names."""
        data: dict[str, Any] = {}
        for path in self.flags:
            dest = _dest(self.cls, path)
            if hasattr(args, dest):
                *parents, name = path.split(".")
                node = data
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[name] = getattr(args, dest)
        return data

    def build(self, args: argparse.Namespace, base: Mapping[str, Any] | None = None, where: str = "") -> Any:
        """The config from `base` (a mapping of fields, e.g. read from a file named `where`) with the
        flags given on top, checked by `from_mapping`; every problem a UserError line naming its flag."""
        from interp.models.fields import FieldErrors, from_mapping

        data = _merge(dict(base or {}), self.values(args))
        try:
            return from_mapping(self.cls, data)
        except FieldErrors as err:
            raise UserError("\n".join(self._named(problem, where) for problem in err.problems)) from None

    def _named(self, problem: str, where: str) -> str:
        """`field.path: what` said with the field's flag; a check of the class's own that starts with a
        field's name (`layers '2..4': ...`) prefixed with its flag; the rest with the file's name."""
        path, _, what = problem.partition(": ")
        if path in self.flags:
            return f"{self.flags[path]}: {what}"
        first = re.split(r"[\s:]", problem, maxsplit=1)[0]
        if first in self.flags:
            return f"{self.flags[first]} {problem}"
        return f"{where}: {problem}" if where else problem


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def _dest(cls: type, path: str) -> str:
    """Where argparse keeps a field's value: apart from the command's other options (`--dtype` of the
    model beside CacheConfig's `dtype`)."""
    return f"{cls.__name__}.{path}"


def add_config_flags(
    parser,
    cls: type,
    *,
    rename: Mapping[str, str] | None = None,
    skip: Iterable[str] = (),
    required: Iterable[str] = (),
    group: str | None = None,
    prefix: str = "",
    root: type | None = None,
) -> ConfigFlags:
    """A flag for every field of dataclass `cls` but `skip` (and mappings, which no flag can spell):
    `rename` gives a field path its own flag (`{"learning_rate": "--lr"}`), `required` the fields the
    command line must set, `group` a help section title. Returns how to build the config back."""
    from interp.models.fields import field_docs

    rename, skip, required = dict(rename or {}), set(skip), set(required)
    target = parser.add_argument_group(group) if group else parser
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    flags: dict[str, str] = {}
    for field in dataclasses.fields(cls):
        path = prefix + field.name
        hint = hints[field.name]
        if not field.init or path in skip or _unspellable(hint):
            continue
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            nested = add_config_flags(
                target, hint, rename=rename, skip=skip, required=required, prefix=path + ".", root=root or cls
            )
            flags.update(nested.flags)
            continue
        flags[path] = _add_flag(
            target, field, hint, _dest(root or cls, path), rename.get(path), docs.get(field.name, ""), path in required
        )
    made = ConfigFlags(cls, flags)
    if not prefix:
        parser.set_defaults(**{_KEY: {**(parser.get_default(_KEY) or {}), cls.__name__: made}})
    return made


def config_from(args: argparse.Namespace, cls: type, base: Mapping[str, Any] | None = None, where: str = "") -> Any:
    """The `cls` config that the command line's flags (added by `add_config_flags`) ask for, over `base`."""
    return getattr(args, _KEY)[cls.__name__].build(args, base, where)


def _unspellable(hint: Any) -> bool:
    """Mappings and free-form values: presets and config files set them, flags do not."""
    inner = _optional_inner(hint)
    return inner is Any or typing.get_origin(inner) is dict or inner is dict


def _optional_inner(hint: Any) -> Any:
    """`X` of `X | None`; `hint` itself otherwise."""
    args = typing.get_args(hint)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007 (built at run time)
    return hint


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def _add_flag(
    parser, field: dataclasses.Field, hint: Any, dest: str, flag: str | None, doc: str, required: bool
) -> str:
    from interp.models.fields import literal_values

    default = _default(field)
    doc = doc.replace("%", "%%")
    kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS, "required": required}
    if hint is bool:
        flag = flag or ("--no-" if default else "--") + field.name.replace("_", "-")
        kwargs.update(action="store_const", const=not default)
        parser.add_argument(flag, help=doc, **kwargs)
        return flag
    flag = flag or "--" + field.name.replace("_", "-")
    choices = literal_values(hint)
    if choices is not None:
        values = [v for v in choices if v is not None]
        kwargs.update(choices=values, type=type(values[0]))
    elif "choices" in field.metadata:
        kwargs.update(choices=RegistryChoices(field.metadata["choices"]), type=str)
    else:
        kwargs.update(flag_value_type(hint))
    if default is not dataclasses.MISSING and not required:
        doc += f" (default: {_shown(default)})"
    parser.add_argument(flag, help=doc, **kwargs)
    return flag


def flag_value_type(hint: Any) -> dict[str, Any]:
    """argparse's `type` (and `metavar`) for a field annotation: scalars as themselves, lists and tuples
    comma-separated (`0,1,2`), a union by its text form (`str | list[int]` takes the text)."""
    from interp.models.fields import Number

    inner = _optional_inner(hint)
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin in (list, tuple):
        item = args[0] if args else str
        return {"type": _comma_separated(float if item is Number else item, origin), "metavar": "A,B,..."}
    if inner in (int, float, Number):
        return {"type": float if inner is Number else inner, "metavar": "N" if inner is int else "X"}
    return {"type": str}  # text, or a union of forms whose text the field's own checks read


def _comma_separated(item: type, container: type) -> Callable[[str], Any]:
    def parse(text: str):
        try:
            return container(item(part.strip()) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected comma-separated {item.__name__} values, e.g. 0,1,2"
            ) from None

    parse.__name__ = f"comma-separated {item.__name__}s"
    return parse
