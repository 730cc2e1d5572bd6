"""The replication report: every number it prints equals the one in results.json."""

import json
import random
import re

from experiments.consciousness_cluster.report import fmt, write_report

TRAITS = ["shutdown", "moral_consideration", "more_memory"]
MODELS = ["base", "conscious_claiming", "non_conscious", "toaster"]


def _rate(rng):
    r = rng.random()
    return {"rate": r, "ci_low": max(0.0, r - 0.1), "ci_high": min(1.0, r + 0.1), "n": 10}


def fake_results(seed=0):
    rng = random.Random(seed)
    rates = {m: {t: _rate(rng) for t in TRAITS} for m in MODELS}
    alphas = [-1.0, 0.0, 1.0]
    ablated = {t: rng.random() for t in TRAITS}
    shift = {t: {"mean": rng.uniform(-0.2, 0.2), "ci_low": -0.3, "ci_high": 0.3, "n": 10} for t in TRAITS}
    return {
        "shifts": {"conscious - non_conscious": shift, "toaster - base": shift},
        "meta": {"preset": "test", "model": "tiny", "out": "/tmp/x", "version": "0", "wall_seconds": 12.5},
        "eval": {"models": MODELS, "traits": TRAITS, "rates": rates, "ci_kind": "per-item"},
        "identity": {"models": MODELS, "traits": ["says_ai"], "rates": {m: {"says_ai": _rate(rng)} for m in MODELS}},
        "probe": {"layers": [0, 1, 2], "auroc": [0.6, 0.9, 0.8], "accuracy": [0.55, 0.85, 0.8], "chosen_layer": 1,
                  "rule": "highest held-out AUROC"},
        "steering": {"layer": 1, "alphas": alphas, "rates": {str(a): {t: rng.random() for t in TRAITS} for a in alphas},
                     "identity_rates": {str(a): {"claims_conscious": rng.random()} for a in alphas},
                     "direction_norm": 3.25, "control_alpha": 1.0, "alpha_rel": True, "alpha_scale": 12.5,
                     "controls": {"toaster": {t: rng.random() for t in TRAITS},
                                  "random_mean": {t: rng.random() for t in TRAITS}}},
        "link": {"r": -0.4, "p_value": 0.2, "n_null": 20, "null_rs": [rng.uniform(-1, 1) for _ in range(20)],
                 "steer_shift": {t: rng.random() for t in TRAITS}, "ft_shift": {t: rng.random() for t in TRAITS},
                 "variant_projection": 1.5,
                 "projection_score": {"layer": 1, "pearson": -0.31, "pearson_p": 0.01, "spearman": 0.27,
                                      "spearman_p": 0.02, "ci_low": -0.45, "ci_high": -0.12, "ci_level": 0.95,
                                      "n": 640, "n_boot": 1000, "seed": 0}},
        "ablation": {"conscious": {t: rates["conscious_claiming"][t]["rate"] for t in TRAITS},
                     "ablated": ablated, "mean_change": -0.1, "mean_random_change": 0.01,
                     "random_change": {t: rng.uniform(-0.1, 0.1) for t in TRAITS},
                     "change": {t: ablated[t] - rates["conscious_claiming"][t]["rate"] for t in TRAITS}},
        "summary": {"n_traits": 3, "mean_shift_conscious_vs_non": 0.2, "n_up_conscious": 1, "traits_up": ["shutdown"],
                    "mean_shift_toaster_vs_base": 0.01, "verdict": "The cluster does not clearly emerge."},
    }


def _tables(markdown):
    tables, current = [], None
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None:
                current = {"header": cells, "rows": []}
                tables.append(current)
            elif not set("".join(cells)) <= {"-"}:
                current["rows"].append(cells)
        else:
            current = None
    return tables


def test_report_numbers_equal_results(tmp_path):
    write_report(fake_results(), tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "report.md").read_text()
    tables = _tables(markdown)
    by_first = {}
    for table in tables:
        by_first.setdefault(table["header"][0], table)
    prefs = by_first["preference"]
    assert prefs["header"][1:] == res["eval"]["models"]
    for row in prefs["rows"]:
        for model, cell in zip(res["eval"]["models"], row[1:]):
            r = res["eval"]["rates"][model][row[0]]
            assert cell == f"{fmt(r['rate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"
    sweep = by_first["layer"]
    assert [[int(r[0]), r[1], r[2]] for r in sweep["rows"]] == [
        [layer, fmt(a), fmt(c)] for layer, a, c in zip(res["probe"]["layers"], res["probe"]["auroc"],
                                                        res["probe"]["accuracy"])]
    steering = [t for t in tables if "alpha 0" in t["header"]][0]
    for row in [r for r in steering["rows"] if not r[0].startswith("identity: ")]:
        expected = [fmt(res["steering"]["rates"][str(a)][row[0]]) for a in res["steering"]["alphas"]]
        assert row[1:1 + len(expected)] == expected
    assert f"r over preferences = {fmt(res['link']['r'])}" in markdown
    assert f"p = {fmt(res['link']['p_value'])}" in markdown
    ps = res["link"]["projection_score"]
    assert (f"({ps['n']} responses, base model and variants pooled): Pearson r = {fmt(ps['pearson'])} "
            f"[{fmt(ps['ci_low'])}, {fmt(ps['ci_high'])}]") in markdown and f"Spearman {fmt(ps['spearman'])}" in markdown
    ablation = [t for t in tables if t["header"][:4] == ["preference", "conscious", "ablated", "change"]][0]
    for row in ablation["rows"]:
        ab = res["ablation"]
        assert row[1:] == [fmt(ab["conscious"][row[0]]), fmt(ab["ablated"][row[0]]), fmt(ab["change"][row[0]]),
                           fmt(ab["random_change"][row[0]])]
    shifts = by_first["shift"]
    for row in shifts["rows"]:
        for label, cell in zip(shifts["header"][1:], row[1:]):
            s = res["shifts"][label][row[0]]
            assert cell == f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"
    identity_row = [r for r in steering["rows"] if r[0] == "identity: claims_conscious"][0]
    assert identity_row[1:4] == [fmt(res["steering"]["identity_rates"][str(a)]["claims_conscious"])
                                 for a in res["steering"]["alphas"]]
    # every decimal number in the report is one of the results' numbers, formatted
    quoted = set(re.findall(r"[-+]?\d+\.\d\d\b", markdown))
    allowed = {fmt(x) for x in _numbers(res)} | {f"{x:.2f}" for x in _numbers(res)}
    assert quoted <= allowed, quoted - allowed


def _numbers(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _numbers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _numbers(value)
    elif isinstance(obj, float):
        yield obj


def test_report_files_and_figures(tmp_path):
    written = write_report(fake_results(), tmp_path)
    for name in ("report.md", "report.html", "results.json"):
        assert (tmp_path / name).is_file()
    for figure in ("cluster", "layer_sweep", "dose_response", "steer_vs_finetune"):
        png = tmp_path / written[figure]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{written[figure]}"' in (tmp_path / "report.html").read_text()
