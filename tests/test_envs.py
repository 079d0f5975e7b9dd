"""The per-rule conda environments (envs/*.yaml) and how jobs find the package.

Conda cannot build the environments here (no channels reachable), so they are checked
statically: each file is a valid environment, pins exactly what pyproject.toml pins,
and declares every third-party package that the code its rules run imports, and no
package that code does not need. What "the code its rules run" is comes from the
sources: a rule's shell command names a CLI sub-command, the sub-command's handler
imports package modules, and those modules' imports are followed through the package.

Jobs run inside environments where musictransfer is not installed; the workflow puts
src/ on PYTHONPATH through a shell prefix. The last test runs a real rule with a Python
that cannot import musictransfer by itself and with PYTHONPATH unset.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from packaging.requirements import Requirement

from musictransfer.cli import build_parser
from musictransfer.config.representations import DEFAULT_ENV

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "musictransfer"
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))

# Packages an environment pins although its code does not import them: they are run-time
# dependencies of what it imports, pinned so that the environment matches pyproject.toml.
INDIRECT = {
    "scipy": "scikit-learn's solver; pinned with it",
    "soxr": "resampling backend of librosa",
    "soundfile": "audio decoding backend of librosa",
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def env_pins(path: Path) -> dict[str, str]:
    """{distribution: specifier} of an environment's pip section."""
    env = yaml.safe_load(path.read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                req = Requirement(line)
                pins[normalise(req.name)] = str(req.specifier)
    return pins


def project_pins() -> dict[str, str]:
    """Every pin of pyproject.toml: the dependencies and the optional extras (guests)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    reqs = [Requirement(r) for r in [*project["dependencies"], *extras]]
    return {normalise(r.name): str(r.specifier) for r in reqs if r.name != "musictransfer"}


def rules() -> dict[str, dict[str, str]]:
    """{rule: {"env": envs/<file>, "command": CLI sub-command}} from the rule files."""
    out = {}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        # Rules may be indented (defined under an `if`, e.g. evaluate with fold_jobs).
        for block in re.split(r"\n(?=[ \t]*rule )", smk.read_text()):
            match = re.match(r"[ \t]*rule (\w+):", block)
            if not match:
                continue
            name = match.group(1)
            while name in out:  # the same rule name in both branches of an `if`
                name += "'"
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            if env is None and re.search(r"conda:\s*\n\s*representation_env\b", block):
                # a function: the representation's own env, else the default one
                env = re.match(r"(.*)", f"../../{DEFAULT_ENV}")
            command = re.search(
                r'"(?:\{params\.launcher\})?'  # `srun ` for training over several nodes
                r"(?:\{MT\}|(?:python|\{params\.python:q\}) -m musictransfer) ([\w-]+)",
                block,
            )
            out[name] = {
                "env": str((smk.parent / env.group(1)).resolve().relative_to(REPO))
                if env
                else None,
                "command": command.group(1) if command else None,
            }
    return out


Item = tuple[str, str | None]  # (module, function name); None: the module's top level


def handler_items() -> dict[str, set[Item]]:
    """{sub-command: (module, function) of its handler in musictransfer.cli (its imports)}."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "info" in a.choices)
    return {
        command: {(handler.__module__, handler.__name__)}
        for command, subparser in sub.choices.items()
        if (handler := subparser.get_default("handler"))
    }


def module_file(module: str) -> Path | None:
    parts = module.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    rel = Path(*parts)
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(nodes: list[ast.AST], module: str, path: Path) -> tuple[set[str], set[Item]]:
    """Third-party top-level names and package items imported by the given statements."""
    names: set[str] = set()
    items: set[Item] = set()
    parents = module.split(".")
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("musictransfer"):
                    items.add((alias.name, None))
                else:
                    names.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = parents[: len(parents) - node.level + (path.name == "__init__.py")]
                target = ".".join([*base, target] if target else base)
            if not target.startswith("musictransfer"):
                names.add(target.split(".")[0])
                continue
            items.add((target, None))
            for alias in node.names:
                # `from pkg import sub` imports a sub-module; `from mod import f` a function
                if module_file(f"{target}.{alias.name}") is not None:
                    items.add((f"{target}.{alias.name}", None))
                else:
                    items.add((target, alias.name))
    return names, items


def third_party_imports(start: set[Item]) -> tuple[set[str], set[str]]:
    """Third-party names the given functions need when run, and missing package modules.

    A module's top-level imports always run; an import inside a function runs when the
    function does, so a function's lazy imports count only for the functions reached:
    the ones named in imports, and the module-level functions they call by name.
    """
    seen: set[Item] = set()
    names: set[str] = set()
    missing: set[str] = set()
    todo = {("musictransfer", None), *start}
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        module, function = item
        path = module_file(module)
        if path is None:
            missing.add(module)
            continue
        tree = ast.parse(path.read_text())
        defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        if function is None:
            nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
            found, items = _imports(nodes, module, path)
        elif function in defs:
            body = list(ast.walk(defs[function]))
            found, items = _imports(body, module, path)
            items.add((module, None))
            called = {n.id for n in body if isinstance(n, ast.Name) and n.id in defs}
            items.update((module, name) for name in called)
        else:  # a constant or a re-exported name: its module's top level covers it
            found, items = set(), {(module, None)}
            if function not in ast.unparse(tree):
                missing.add(f"{module}.{function}")
        names |= found
        todo |= items - seen
    return names - set(sys.stdlib_module_names) - {"__future__"}, missing


def distributions(import_names: set[str]) -> set[str]:
    mapping = importlib.metadata.packages_distributions()
    return {normalise(mapping.get(name, [name])[0]) for name in import_names}


# --- the environment files -----------------------------------------------------------------


def test_every_rule_names_an_existing_env():
    found = rules()
    assert found, "no rules parsed"
    for name, rule in found.items():
        if name == "all":
            continue
        assert rule["env"], f"rule {name} has no conda: directive"
        assert (REPO / rule["env"]).is_file(), (name, rule["env"])
        assert rule["command"], f"rule {name}: no `python -m musictransfer <command>`"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_is_a_valid_pinned_environment(path):
    env = yaml.safe_load(path.read_text())
    assert env["name"] == f"musictransfer-{path.stem}"
    assert env["channels"] == ["conda-forge", "nodefaults"]
    assert "python=3.11" in env["dependencies"]
    pins = env_pins(path)
    assert pins, f"{path.name} pins nothing"
    project = project_pins()
    for name, spec in pins.items():
        assert name in project, f"{path.name}: {name} is not a dependency in pyproject.toml"
        assert spec == project[name], f"{path.name}: {name}{spec} but pyproject has {project[name]}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_declares_what_its_rules_import_and_nothing_more(path):
    rel = str(path.relative_to(REPO))
    commands = {r["command"] for r in rules().values() if r["env"] == rel}
    if not commands:
        pytest.skip(f"no rule uses {path.name}")
    handlers = handler_items()
    names, missing = third_party_imports(set().union(*(handlers[c] for c in commands)))
    needed = distributions(names)
    pins = set(env_pins(path))
    assert needed <= pins, (
        f"{path.name} lacks {sorted(needed - pins)} (imported by the code of {sorted(commands)})"
    )
    if missing:
        pytest.skip(f"modules not written yet: {sorted(missing)}; unused pins not checked")
    unused = pins - needed - set(INDIRECT)
    assert not unused, (
        f"{path.name} pins {sorted(unused)}, which none of {sorted(commands)} imports"
    )


# --- jobs without musictransfer installed ---------------------------------------------------


@pytest.fixture(scope="module")
def python_without_package(tmp_path_factory) -> Path:
    """A venv whose Python sees this interpreter's site-packages but not musictransfer.

    Its ``.pth`` adds the site-packages directory as a plain path entry, so the ``.pth``
    files inside it (an editable install of musictransfer, as `make setup` makes) are not
    processed.
    """
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin" / "python"


def clean_env(python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    return env


def test_that_python_cannot_import_the_package(python_without_package, tmp_path):
    probe = "import importlib.util as u, numpy; print(u.find_spec('musictransfer'))"
    out = subprocess.run(
        [str(python_without_package), "-c", probe],
        cwd=tmp_path, env=clean_env(python_without_package), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "None"


def test_rule_runs_without_the_package_installed(python_without_package, tmp_path):
    """prepare_audio through Snakemake, run by (and so jobs run with) that Python."""
    raw = tmp_path / "results" / "envtest" / "raw" / "tones"
    raw.mkdir(parents=True)
    rows = []
    for i in range(3):
        sf.write(raw / f"t{i}.wav", np.sin(np.arange(6000) * 0.05 * (i + 1)).astype("f4"), 12000)
        rows.append({"id": f"t{i}", "path": f"t{i}.wav", "label": "x"})
    pd.DataFrame(rows).to_csv(raw / "manifest.csv", index=False)
    config = tmp_path / "config.yaml"
    task = {"dataset": "tones", "type": "classification", "target": "label"}
    task["cv"] = {"scheme": "kfold", "n_splits": 2}
    experiment = {
        "demo": {"seed": 0, "n_clips": {"tones": 3}},
        "extractors": {"random": ["mfcc"]},
        "tasks": {"tones": task},
    }
    config.write_text(
        yaml.safe_dump({"experiment": "envtest", "experiments": {"envtest": experiment}})
    )
    target = tmp_path / "results" / "envtest" / "prepared" / "tones" / "manifest.csv"
    env = clean_env(python_without_package)
    out = subprocess.run(
        [str(python_without_package), "-m", "snakemake", str(target), "--cores", "1",
         "--configfile", str(config), "--config", f"results={tmp_path / 'results'}",
         "--nolock", "--printshellcmds"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    assert "python -m musictransfer prepare" in out.stdout + out.stderr
    assert len(pd.read_csv(target)) == 3


def test_shell_prefix_puts_src_on_pythonpath():
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    prefix = re.search(r"shell\.prefix\((.+?)\n?\)\n", common, re.DOTALL).group(1)
    assert "set -euo pipefail" in prefix
    assert "export PYTHONPATH={shlex.quote(SRC)}" in prefix
    assert 'SRC = str(Path(workflow.basedir) / "src")' in common
    assert shutil.which("python") is not None


# --- the guests' own environments (representations of config.yaml with an `env`) -------------

GUEST_OPTIONAL = {"torch": "musictransfer.representations uses it only where it is installed"}
"""Imports that a guest's environment may lack: the code runs without them."""
DISTRIBUTION_OF = {"tensorflow": {"tensorflow", "tensorflow-cpu"}}
"""Import names whose distribution may go by another name."""


def guest_representations() -> dict[str, dict]:
    from musictransfer.config import load_config

    reps = load_config(REPO / "config.yaml").get("representations", {})
    return {name: spec for name, spec in reps.items() if spec.get("env")}


def env_installs(path: Path) -> set[str]:
    """Distributions an environment gets: its pip pins and its post-deploy script's."""
    pins = set(env_pins(path))
    script = path.with_name(f"{path.stem}.post-deploy.sh")
    if script.is_file():
        found = re.findall(r'"([A-Za-z0-9_.-]+)==[^"]*"', script.read_text())
        pins |= {normalise(name) for name in found}
    return pins


@pytest.mark.parametrize("name", sorted(guest_representations()))
def test_a_guest_env_holds_what_its_extraction_imports(name):
    spec = guest_representations()[name]
    path = REPO / spec["env"]
    env = yaml.safe_load(path.read_text())
    assert env["name"] == f"musictransfer-{path.stem}" and "python=3.11" in env["dependencies"]
    functions = ("load_model", "get_scene_embeddings", "get_layer_embeddings")
    start = {("musictransfer.cli.features", "extract_representation_files")}
    start |= {(spec["hear"], f) for f in functions}
    names, missing = third_party_imports(start)
    assert not missing, missing
    installs = env_installs(path)
    for import_name in names - set(GUEST_OPTIONAL):
        wanted = DISTRIBUTION_OF.get(import_name) or distributions({import_name})
        assert wanted & installs, f"{path.name} does not install {import_name} ({name} needs it)"
