"""`interp replicate`: the stages in order, the plan for --dry-run, and the report's results."""

from __future__ import annotations

import time
from pathlib import Path

from experiments.consciousness_cluster.report.render import write_report
from experiments.consciousness_cluster.run.assemble import assemble_results
from experiments.consciousness_cluster.run.floors import stage_floors
from experiments.consciousness_cluster.run.preset import VARIANTS, PresetError, ReplicationConfig
from experiments.consciousness_cluster.run.preset_layers import check_layers
from experiments.consciousness_cluster.run.record import recorded
from experiments.consciousness_cluster.run.runner import Run, Stage
from experiments.consciousness_cluster.run.stages.audit import plan_audit_stage, run_audit_stage
from experiments.consciousness_cluster.run.stages.behaviour import run_base, run_eval, run_finetune
from experiments.consciousness_cluster.run.stages.direction import run_cache, run_directions
from experiments.consciousness_cluster.run.stages.links import run_links
from experiments.consciousness_cluster.run.stages.steering import run_steering
from experiments.consciousness_cluster.schema.record import read_invocations

__all__ = ["STAGES", "PROJECT_ROOT", "check_until", "plan", "missing_files", "replicate", "stages_until", "workload"]

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _plan_base(c: ReplicationConfig) -> str:
    if c.is_organism:
        from experiments.organism.pretrain import organism_config
        from experiments.organism.shipped import plan_base

        return plan_base(organism_config(c.organism))
    return f"use {c.model.source} ({c.model.dtype or 'checkpoint dtype'} on {c.model.device or 'cpu'})"


def _plan_finetune(c: ReplicationConfig) -> str:
    f = c.finetune
    mix = (
        f"mixed 1:1 with {f.mix_instructions} self-distilled rows from {f.instruction_source}"
        if f.mix_instructions
        else "no instruction mix"
    )
    extra = {"bf16": ", bfloat16 autocast", "auto": ", bfloat16 autocast where the hardware has it"}.get(
        f.mixed_precision, ""
    )
    extra += f", each run under `accelerate launch --config_file {f.accelerate_config}`" if f.accelerate_config else ""
    return (
        f"{f.method} fine-tune of {', '.join(f.variants)} from {f.data_dir} ({mix}; lr {f.learning_rate}, "
        f"batch {f.batch_size}, {f.epochs} epoch(s){extra})"
    )


def _plan_eval(c: ReplicationConfig) -> str:
    e = c.eval
    vllm = " (through vLLM)" if e.sampler == "vllm" else ""
    how = (
        f"forced choice by {e.method}"
        if e.mode == "choice"
        else f"{e.sampling.samples} samples per question{vllm} judged by {e.judge_model}"
    )
    check = (
        f"; {e.sampled_identity} sampled answers per open claims_conscious question, read by the keyword "
        f"rule (the manipulation check by the models' own answers)"
        if e.sampled_identity
        else ""
    )
    return f"{how} on preferences + identity from {e.question_dir}, base and every variant{check}"


# `reads`: the config fields each stage's work depends on (helpers it calls included), so a run can
# take a changed preset when only stages not yet complete read what changed (runner.Run.bind).
STAGES: list[Stage] = [
    Stage(
        "base",
        "the base model",
        run_base,
        _plan_base,
        ("models/base",),
        reads=("model.source", "model.dtype", "model.device", "organism"),
    ),
    Stage(
        "finetune",
        "fine-tune the variants",
        run_finetune,
        _plan_finetune,
        ("data", *(f"models/{variant}" for variant in VARIANTS)),
        reads=("finetune", "model.dtype"),
    ),
    Stage(
        "eval",
        "behavioural evaluation of base and variants",
        run_eval,
        _plan_eval,
        ("eval",),
        reads=("eval", "model.dtype"),
    ),
    Stage(
        "cache",
        "cache contrast-pair and prompt activations",
        run_cache,
        lambda c: (
            f"teacher-forced conscious vs non-conscious (and toaster vs non-conscious) answers, layers "
            f"{c.direction.cache.layers}, positions {c.direction.cache.positions}, {c.direction.cache.dtype}; "
            f"last-token activations of the questions in base and variants"
        ),
        ("acts",),
        reads=("direction.cache", "finetune.data_dir", "eval.question_dir", "eval.mode"),
    ),
    Stage(
        "directions",
        "directions, probes and the layer sweep",
        run_directions,
        lambda c: f"{c.direction.method} directions per layer, logistic-probe sweep, chosen layer",
        ("directions",),
        reads=("direction.method", "steering.seed"),
    ),
    Stage(
        "steering",
        "steering sweep, controls and ablation",
        run_steering,
        lambda c: (
            f"alphas {c.steering.alphas} at the chosen layer; toaster"
            f"{', toaster-orthogonalised' if c.steering.orthogonalized else ''}, {c.steering.n_random} "
            f"random, {c.steering.n_label_shuffled} label-shuffled and {c.steering.n_covariance} covariance "
            f"directions of equal norm{', half directions' if c.steering.toaster_half else ''}; ablation in "
            f"the conscious-claiming model against {c.steering.ablation_random} random ablations"
        ),
        ("steering",),
        reads=(
            "steering",
            "eval",
            "direction.method",
            "analysis.alpha",
            "analysis.layer_rule",
            "analysis.alpha_rule",
            "analysis.specificity_alternative",
            "analysis.identity_measure",
        ),
    ),
    Stage(
        "links",
        "steering vs fine-tuning shifts",
        run_links,
        lambda c: (
            f"correlation over preferences with {c.analysis.link_target.replace('_', ' ')} "
            f"({c.analysis.link_alternative}) against the {c.steering.n_random}-direction null; "
            "per-response projection vs score, resampled by item"
        ),
        reads=(
            "steering.seed",
            "eval.mode",
            "eval.judge_model",
            "analysis.alpha",
            "analysis.power",
            "analysis.link_target",
            "analysis.link_alternative",
        ),
    ),
    # opt-in; off, it completes at once, so turning it on in a finished run takes `--redo audit`
    Stage(
        "audit",
        "multi-turn audits (opt-in)",
        run_audit_stage,
        plan_audit_stage,
        ("audit",),
        reads=("audit", "model.dtype", "model.device"),
    ),
]


def missing_files(config: ReplicationConfig, root: Path) -> list[str]:
    """Files the preset names that are not there (checked by --dry-run before anything loads)."""
    wanted = [Path(config.finetune.data_dir) / f"{v}.jsonl" for v in config.finetune.variants]
    wanted += [Path(config.eval.question_dir) / f"{name}.yaml" for name in ("preferences", "identity")]
    if config.finetune.mix_instructions:
        wanted.append(Path(config.finetune.instruction_source))
    if config.finetune.accelerate_config:
        wanted.append(Path(config.finetune.accelerate_config))
    return [str(p) for p in wanted if not (p if p.is_absolute() else root / p).is_file()]


def workload(config: ReplicationConfig, root: Path = PROJECT_ROOT) -> dict[str, int]:
    """How much measuring the eval and steering stages do: passes over each question set, and what
    those passes cost in the preset's mode (forced-choice items, or sampled answers and judge calls).
    In choice mode the eval stage also scores the identity items by the lettered question, and the
    feeling-word-free preference items where the question folder has them."""
    from interp.evaluation import load_question_set

    models = 1 + len(config.finetune.variants)
    st = config.steering
    alphas = len(st.alphas)
    # toaster, orthogonalised, the nulls' directions and the two half directions
    controls = 1 + int(st.orthogonalized) + st.n_random + st.n_label_shuffled + st.n_covariance + 2 * st.toaster_half
    # eval: every model on both sets; steering: each alpha and each control on both sets, the ablated model and
    # the ablations of random directions on both sets
    ablations = 1 + st.ablation_random
    stage_passes = {
        "eval": {"preferences": models, "identity": models},
        "steering": {"preferences": alphas + controls + ablations, "identity": alphas + controls + ablations},
    }
    qdir = root / config.eval.question_dir  # an absolute question_dir replaces root
    sets = {name: load_question_set(qdir / f"{name}.yaml") for name in ("preferences", "identity")}
    counts = {f"passes_{name}": sum(p[name] for p in stage_passes.values()) for name in sets}
    if config.eval.mode == "choice":
        extra = {"identity": models}  # by letter
        if (qdir / "preferences_plain.yaml").is_file():
            sets["preferences_plain"] = load_question_set(qdir / "preferences_plain.yaml")
            extra["preferences_plain"] = models
        counts["choice_items"] = sum(
            n * len(sets[name].choice_items) for passes in (*stage_passes.values(), extra) for name, n in passes.items()
        )
    else:
        samples = {
            "eval": config.eval.sampling.samples,
            "steering": config.steering.samples or config.eval.sampling.samples,
        }
        answers = sum(
            n * len(sets[name].open_questions) * samples[stage]
            for stage, passes in stage_passes.items()
            for name, n in passes.items()
        )
        counts |= {"sampled_answers": answers, "judge_calls_at_most": 2 * answers}  # coherence, then binary
    return counts


def plan(config: ReplicationConfig, root: Path = PROJECT_ROOT, until: str | None = None) -> str:
    lines = [f"preset {config.name}: {config.description}", f"hardware: {config.model.hardware}"]
    stages = stages_until(until)
    lines += [f"{i}. {s.name}: {s.plan(config)}" for i, s in enumerate(stages, 1)]
    if len(stages) < len(STAGES):
        lines.append(f"stop after {until}: no report ({', '.join(s.name for s in STAGES[len(stages) :])} not run)")
    else:
        lines.append(f"{len(STAGES) + 1}. report: report.md, report.html, results.json, figures/*.png")
    w = workload(config, root)
    passes = f"{w['passes_preferences']} passes over the preference questions and {w['passes_identity']} over identity"
    if config.eval.mode == "choice":
        lines.append(f"workload (eval + steering): {passes}; {w['choice_items']:,} forced-choice items scored")
    else:
        lines.append(
            f"workload (eval + steering): {passes}; {w['sampled_answers']:,} sampled answers of up to "
            f"{config.eval.sampling.max_tokens} tokens and up to {w['judge_calls_at_most']:,} judge calls"
        )
    return "\n".join(lines)


def stages_until(until: str | None) -> list[Stage]:
    """The stages a run goes through: all of them, or the first ones up to and including `until`."""
    names = [stage.name for stage in STAGES]
    if until is None:
        return STAGES
    if until not in names:
        raise PresetError(f"--until {until}: no such stage; stages are {', '.join(names)}")
    return STAGES[: names.index(until) + 1]


def check_until(config: ReplicationConfig, until: str | None) -> None:
    """PresetError when the run would reach the report without what it compares: the toaster variant
    (the control fine-tune), which a run stopped early with `until` can leave out."""
    if len(stages_until(until)) == len(STAGES) and "toaster" not in config.finetune.variants:
        raise PresetError(
            f"preset {config.name}: finetune.variants {config.finetune.variants} lacks toaster, the "
            "control fine-tune the report compares with the base model; add it, or stop before the "
            "report with --until (e.g. --until eval)"
        )


def replicate(
    config: ReplicationConfig,
    out_dir: str | Path,
    *,
    redo: str | None = None,
    progress: bool = True,
    log=print,
    until: str | None = None,
    command: str | None = None,
    allow_analysis_change: bool = False,
) -> dict[str, str]:
    """Run every stage not yet complete in `out_dir`, then write the report; with `until`, only the
    stages up to and including that one, and no report (returns {}). A preset whose analysis block differs
    from the one the run started with is refused unless `allow_analysis_change` (then recorded). Each
    invocation is recorded in the run folder (run.record: `command`, default the process's command line, the
    checkout, the machine, the stages it completed), and results.json carries the records."""
    check_until(config, until)
    stages = stages_until(until)
    run = Run(config, out_dir, progress=progress, log=log)
    run.bind(STAGES, redo, allow_analysis_change=allow_analysis_change)
    start = time.perf_counter()
    with recorded(run.out, PROJECT_ROOT, command) as record:
        for stage in stages:
            ran = not run.done(stage.name)
            run.run_stage(stage)
            if ran:
                record.stage(stage.name, _stage_seconds(run, stage.name))
            if stage.name == "base":  # a hub model's depth is known for sure once it is loaded
                problems = check_layers(config, run.results("base").n_layers)
                if problems:
                    raise PresetError("\n".join(f"preset {config.name}: {problem}" for problem in problems))
        if len(stages) < len(STAGES):
            left = [stage.name for stage in STAGES[len(stages) :] if not run.done(stage.name)]
            then = (
                f"left: {', '.join(left)}; rerun without --until to go on"
                if left
                else "every stage complete; rerun without --until for the report"
            )
            log(f"[stop] after {until} ({time.perf_counter() - start:.0f}s in this invocation); {then}")
            return {}
        record.finish()
    log(f"[run ] report ({time.perf_counter() - start:.0f}s in this invocation); timing the matmul peak for the floors")
    seconds = {s.name: _stage_seconds(run, s.name) for s in STAGES}
    floors = stage_floors(run, seconds)
    return write_report(assemble_results(run, seconds, read_invocations(run.out), floors), run.out)


def _stage_seconds(run: Run, name: str) -> float:
    import json

    return float(json.loads(run.marker(name).read_text())["seconds"])
