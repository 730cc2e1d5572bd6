"""The wheels the GPU suite needs beyond what a GPU machine brings, and the check that they are installed.

A lent GPU machine has PyTorch, Triton and the scientific stack, but nothing can be downloaded
there and its transformers may be older than the toolkit needs. So the suite's other packages
travel with the tree as wheels: `python benchmarks/gpu_wheels.py download` (run here, where pip
reaches the package index) pins every package reachable from `ROOTS` through their requirements,
at the versions installed here (the ones the tests pass with), leaves out `PROVIDED`, and downloads
them for the GPU machine's Python and platform into `benchmarks/gpu_wheels/`. The suite itself
calls `problems()` first, so a missing or too old package stops it with one line.

    python benchmarks/gpu_wheels.py download            # into benchmarks/gpu_wheels/, for CPython 3.12
    python benchmarks/gpu_wheels.py list                # what would be downloaded
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["PROVIDED", "ROOTS", "Problem", "closure", "download", "problems"]

ROOT_DIR = Path(__file__).resolve().parents[1]
WHEELS = ROOT_DIR / "benchmarks" / "gpu_wheels"
# What the suite imports besides torch, triton and the scientific stack.
ROOTS = ("transformers", "peft", "accelerate", "h5py", "safetensors", "tokenizers", "huggingface-hub", "pyyaml", "tqdm")
# Never carried: the GPU machine's own CUDA builds and its large compiled stack (names, or prefixes ending in -).
PROVIDED = (
    "torch",
    "triton",
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "threadpoolctl",
    "sympy",
    "mpmath",
    "networkx",
    "jinja2",
    "markupsafe",
    "setuptools",
    "nvidia-",
    "cuda-",
)
# The GPU machine's interpreter, for requirement markers; its Python is 3.12 on x86-64 Linux.
DEVICE_PYTHON = "3.12"
PLATFORMS = (
    "manylinux_2_39_x86_64",
    "manylinux_2_35_x86_64",
    "manylinux_2_34_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)


def _provided(name: str) -> bool:
    return any(name.startswith(p) if p.endswith("-") else name == p for p in PROVIDED)


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class Problem(NamedTuple):
    name: str
    found: str | None
    """the installed version, None when absent"""
    needs: str
    """the specifier that is not met, e.g. ">=5.24"; "" for any version"""
    by: str
    """who asks for it: "the toolkit" or a package's name"""

    def __str__(self) -> str:
        found = f"{self.found} installed" if self.found else "not installed"
        return f"{self.name}{self.needs} ({found}; needed by {self.by})"


def closure(
    roots: tuple[str, ...] = ROOTS, env: dict[str, str] | None = None
) -> tuple[dict[str, str | None], list[Problem]]:
    """Every package reachable from `roots` (at the toolkit's pins) through the installed packages' requirements
    (markers read for `env`, extras left out), `PROVIDED` excepted: {name: installed version or None}, and the
    unmet requirements."""
    env = dict(env or default_environment(), extra="")
    found: dict[str, str | None] = {}
    problems_: list[Problem] = []
    pins = {canonicalize_name(req.name): req for req in _toolkit_requirements(roots)}
    todo = [(pins.get(canonicalize_name(root), Requirement(root)), "the toolkit") for root in roots]
    while todo:
        requirement, by = todo.pop(0)  # breadth first: the roots are reported in their order
        name = canonicalize_name(requirement.name)
        if _provided(name) or (requirement.marker is not None and not requirement.marker.evaluate(env)):
            continue
        version = _installed(name)
        if version is None or (requirement.specifier and not requirement.specifier.contains(version, prereleases=True)):
            problems_.append(Problem(name, version, str(requirement.specifier), by))
        if name in found:
            continue
        found[name] = version
        if version is not None:
            todo.extend((Requirement(text), name) for text in metadata.requires(name) or [])
    return found, problems_


def _toolkit_requirements(names: tuple[str, ...]) -> list[Requirement]:
    """The toolkit's own pins (pyproject.toml: dependencies, and the gpu extra) of the packages named."""
    import tomllib

    project = tomllib.loads((ROOT_DIR / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["gpu"]
    wanted = {canonicalize_name(name) for name in names}
    return [req for req in map(Requirement, texts) if canonicalize_name(req.name) in wanted]


def problems(provided: tuple[str, ...] = ("torch", "triton", "scikit-learn", "numpy", "scipy")) -> list[Problem]:
    """What keeps the suite from running here, one entry per package: the toolkit's pins of the `provided`
    packages, then `closure()`'s unmet requirements."""
    unmet = []
    for requirement in _toolkit_requirements(provided):
        version = _installed(requirement.name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(
                Problem(canonicalize_name(requirement.name), version, str(requirement.specifier), "the toolkit")
            )
    merged: dict[str, Problem] = {}
    for problem in unmet + closure()[1]:
        if problem.name in merged:  # one package asked for by several: every pin it misses, every asker
            first = merged[problem.name]
            needs = ",".join(dict.fromkeys(filter(None, (first.needs, problem.needs))))
            problem = first._replace(needs=needs, by=f"{first.by}, {problem.by}")
        merged[problem.name] = problem
    return list(merged.values())


def device_environment(python: str) -> dict[str, str]:
    """Marker values of CPython `python` (e.g. "3.12") on x86-64 Linux."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def download(dest: Path = WHEELS, python: str = DEVICE_PYTHON) -> list[Path]:
    """Pin the closure at the versions installed here and download its wheels for CPython `python` on
    x86-64 manylinux into `dest` (emptied first: two versions of one package stop the install there)."""
    pins, unmet = closure(env=device_environment(python))
    missing = [name for name, version in pins.items() if version is None]
    if missing:
        raise SystemExit(
            f"gpu_wheels: {', '.join(missing)} not installed here, so no version to pin; install "
            "the project's environment first (make env)"
        )
    if unmet:
        raise SystemExit(
            "gpu_wheels: this environment does not meet its own requirements: " + "; ".join(map(str, unmet))
        )
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            *platforms,
            "--dest",
            str(dest),
            *(f"{name}=={version}" for name, version in sorted(pins.items())),
        ],
        check=True,
    )
    return sorted(dest.glob("*.whl"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python benchmarks/gpu_wheels.py download",
    )
    parser.add_argument("action", choices=["download", "list"])
    parser.add_argument("--dest", type=Path, default=WHEELS, help="folder for the wheels (emptied first)")
    parser.add_argument("--python", default=DEVICE_PYTHON, help="CPython version of the GPU machine")
    args = parser.parse_args(argv)
    if args.action == "list":
        pins, unmet = closure(env=device_environment(args.python))
        print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
        for problem in unmet:
            print(f"unmet here: {problem}", file=sys.stderr)
        return
    wheels = download(args.dest, args.python)
    total = sum(path.stat().st_size for path in wheels)
    print(f"{len(wheels)} wheels, {total / 2**20:.1f} MiB in {args.dest}")


if __name__ == "__main__":
    main()
