"""One vocabulary: every flag two subcommands share is in the table, means and takes what it says there,
old spellings still work with a note, and every default is shown in --help."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from interp.cli import SUBCOMMANDS, build_parser, main
from interp.cli.common import positive_int
from interp.cli.vocabulary import DEPRECATED, VOCABULARY, rewrite_deprecated

COMMANDS = [*SUBCOMMANDS, "finetune-mix"]


def _parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: parser.populate() for name, parser in sub.choices.items()}


def _help(name: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _listed_flags(help_text: str) -> set[str]:
    """The long options --help lists (each at the start of an option line)."""
    return {m.group(1) for m in re.finditer(r"^  (?:-\w, )?(--[\w-]+)", help_text, re.MULTILINE)} - {"--help"}


def test_every_shared_flag_is_in_the_vocabulary_and_no_old_spelling_is_listed(capsys):
    listed = {name: _listed_flags(_help(name, capsys)) for name in COMMANDS}
    seen: dict[str, list[str]] = {}
    for name, flags in listed.items():
        for flag in flags:
            seen.setdefault(flag, []).append(name)
        assert not flags & set(DEPRECATED.get(name, {})), f"{name} --help lists an old spelling"
    shared = {flag: names for flag, names in seen.items() if len(names) > 1}
    assert "--model" in shared and "--json" in shared and len(shared["--json"]) == len(COMMANDS)
    missing = {flag: names for flag, names in shared.items() if flag not in VOCABULARY}
    assert not missing, f"flags shared by several subcommands but not in the vocabulary: {missing}"


def _kind_of(action: argparse.Action):
    if action.nargs == 0:
        return None
    if action.type in (None, str, Path):
        return str
    if action.type is positive_int:
        return int
    if getattr(action.type, "__name__", "").startswith("comma-separated"):  # a list field's flag: 0,1,2
        return list
    return action.type


@pytest.mark.parametrize("name", COMMANDS)
def test_a_vocabulary_flag_takes_the_same_kind_of_value_and_says_the_same_meaning(name):
    parser = _parsers()[name]
    for action in parser._actions:
        for flag in (f for f in action.option_strings if f in VOCABULARY):
            term = VOCABULARY[flag]
            assert _kind_of(action) is term.kind, (name, flag, action.type)
            if "." not in action.dest:  # flags generated from a config field carry the field's docstring
                assert (action.help or "").startswith(term.meaning), (name, flag, action.help)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_every_default(name, capsys):
    parser = _parsers()[name]
    formatter = parser.formatter_class(prog=parser.prog)
    help_text = " ".join(_help(name, capsys).split())
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.required:
            continue
        shown = formatter._expand_help(action)  # what --help prints for it, before wrapping
        if action.default is not None and action.default is not argparse.SUPPRESS or "." in action.dest:
            assert "default" in shown, (name, action.option_strings, shown)  # "." in dest: from a config field
            assert " ".join(shown.split()) in help_text


def test_old_spellings_are_rewritten_with_a_note(capsys):
    parsers = _parsers()
    for name, renamed in DEPRECATED.items():
        options = {o for a in parsers[name]._actions for o in a.option_strings}
        for old, new in renamed.items():
            assert new in options and old not in options, (name, old, new)
            got = rewrite_deprecated([name, old, "x", f"{old}=y", "--", old])
            assert got == [name, new, "x", f"{new}=y", "--", old]
            assert f"interp {name}: note: {old} is now {new}" in capsys.readouterr().err
    assert rewrite_deprecated(["eval", "--vector", "v"]) == ["eval", "--vector", "v"]  # steer's old spelling only


def test_an_old_spelling_still_runs(tmp_path, capsys):
    assert (
        main(
            [
                "direction",
                "--store",
                str(tmp_path / "nope.h5"),
                "--layer",
                "2",
                "--out",
                str(tmp_path / "v.safetensors"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "interp direction: note: --layer is now --layers (the old spelling still works, for now)"
    assert "no such activation file" in err[-1]
