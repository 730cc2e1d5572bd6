"""Config is the CLI: each subcommand's flags are its config dataclass's fields (name, type, choices,
default and help from the field's docstring), and no preset section declares a job config's field again."""

from __future__ import annotations

import argparse
import dataclasses
import typing

import pytest

from interp.cli import build_parser, main
from interp.cli.flags import config_from
from interp.models.fields import field_docs, literal_values


def _jobs():
    from activations import CacheConfig
    from interp.audit import AuditConfig
    from interp.cli import audit, cache, eval, finetune
    from interp.evaluation import EvalConfig
    from interp.finetune import FinetuneConfig
    from probes.sweep import SweepConfig

    return {
        "cache": (CacheConfig, cache.RENAMED),
        "finetune": (FinetuneConfig, finetune.RENAMED),
        "probe": (SweepConfig, {}),
        "audit": (AuditConfig, audit.RENAMED),
        "eval": (EvalConfig, eval.RENAMED),
    }


def _parser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name].populate()


def _leaves(cls: type, prefix: str = ""):
    """(path, owning class, field, annotation) of every field a flag can spell, nested dataclasses opened."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            yield from _leaves(hint, f"{prefix}{field.name}.")
        elif typing.get_origin(hint) is not dict:
            yield prefix + field.name, cls, field, hint


def _default(field):
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


@pytest.mark.parametrize("name", ["cache", "finetune", "probe", "audit", "eval"])
def test_the_flags_are_the_config_fields(name):
    cls, renamed = _jobs()[name]
    actions = {a.dest.split(".", 1)[1]: a for a in _parser(name)._actions if a.dest.startswith(cls.__name__ + ".")}
    leaves = list(_leaves(cls))
    assert set(actions) == {path for path, *_ in leaves}, "a field without its flag, or a flag of no field"
    for path, owner, field, hint in leaves:
        action, default = actions[path], _default(field)
        if hint is bool:
            assert action.option_strings == [
                renamed.get(path, ("--no-" if default else "--") + field.name.replace("_", "-"))
            ]
            assert action.nargs == 0 and action.const is (not default)
        else:
            assert action.option_strings == [renamed.get(path, "--" + field.name.replace("_", "-"))]
            choices = literal_values(hint)
            if choices is not None:
                assert list(action.choices) == [c for c in choices if c is not None]
            elif hint in (int, float, str):
                assert action.type is hint
            shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
            assert f"(default: {'none' if shown is None else shown})" in action.help
        assert action.help.startswith(field_docs(owner)[field.name].replace("%", "%%")), path


def test_flags_left_out_give_the_config_defaults_and_given_ones_reach_it(tmp_path):
    from activations import CacheConfig
    from interp.finetune import FinetuneConfig

    parser = build_parser()
    base = ["--model", "m", "--prompts", "p.jsonl", "--out", "o.h5"]
    assert config_from(parser.parse_args(["cache", *base]), CacheConfig) == CacheConfig()
    args = parser.parse_args(
        [
            "cache",
            *base,
            "--layers=-2:",
            "--positions",
            "last",
            "--store-dtype",
            "bfloat16",
            "--no-store",
            "--max-tokens-per-batch",
            "512",
            "--truncate",
            "--dtype",
            "float32",
        ]
    )
    assert config_from(args, CacheConfig) == CacheConfig(
        layers="-2:", positions="last", dtype="bfloat16", store=False, max_tokens_per_batch=512, truncate=True
    )
    assert args.dtype == "float32"  # the model's --dtype stays apart from the store's
    args = parser.parse_args(
        [
            "finetune",
            "--model",
            "m",
            "--data",
            "d",
            "--out",
            "o",
            "--target-modules",
            "q,v",
            "--lr",
            "1e-3",
            "--max-grad-norm",
            "0.5",
        ]
    )
    assert config_from(args, FinetuneConfig) == FinetuneConfig(
        target_modules=["q", "v"], learning_rate=1e-3, max_grad_norm=0.5
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["finetune", "--model", "m", "--data", "d", "--out", "o", "--lora-rank", "0"],
            "interp finetune: error: --lora-rank: 0 is too small; use at least 1",
        ),
        (
            ["finetune", "--model", "m", "--data", "d", "--out", "o", "--warmup-ratio", "1.5"],
            "interp finetune: error: --warmup-ratio: expected a value in [0, 1), got 1.5",
        ),
        (
            ["cache", "--model", "m", "--prompts", "p", "--out", "o.h5", "--batch-size", "0"],
            "interp cache: error: --batch-size batch_size must be at least 1",
        ),
    ],
)
def test_a_bad_value_is_named_by_its_flag(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message


def test_no_preset_section_declares_a_field_of_the_job_it_configures_again():
    """A preset section nests or extends the job's config; a copy of its fields would drift (it did: lora_alpha
    was an int in the preset and a float in the fine-tune)."""
    import typing

    from activations import CacheConfig
    from experiments.consciousness_cluster.run.preset import AuditSpec, DirectionSpec, EvalSpec, FinetuneSpec
    from interp.audit.config import AuditConfig
    from interp.evaluation.job import EvalConfig
    from interp.evaluation.runner import SamplingConfig
    from interp.finetune import FinetuneConfig

    for section, job in [
        (FinetuneSpec, FinetuneConfig),
        (EvalSpec, EvalConfig),
        (DirectionSpec, CacheConfig),
        (AuditSpec, AuditConfig),
    ]:
        hints = typing.get_type_hints(section)
        assert issubclass(section, job) or any(hints[f.name] is job for f in dataclasses.fields(section))
        own = set(section.__dict__.get("__annotations__", {}))
        assert not own & {f.name for f in dataclasses.fields(job)}, (section.__name__, own)
    # judge mode's sampling is the eval job's own SamplingConfig, nested, not a copy of its fields
    assert typing.get_type_hints(EvalSpec)["sampling"] is SamplingConfig
    assert not set(EvalSpec.__dict__["__annotations__"]) & {f.name for f in dataclasses.fields(SamplingConfig)}
