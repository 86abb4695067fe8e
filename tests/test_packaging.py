"""pyproject.toml and environment.yml must list the same packages with the same versions."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(spec: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip())
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_specs = project["dependencies"] + project["optional-dependencies"]["test"]
    expected = dict(_split(s) for s in pip_specs)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep["pip"]:
                if not spec.startswith("-e"):
                    name, version = _split(spec)
                    found[name] = version
        else:
            name, version = _split(dep)
            if name in ("python", "pip"):
                continue
            found[CONDA_TO_PYPI.get(name, name)] = version
    assert found == expected


def test_ci_runs_make_test_and_readme_has_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme


def test_constraints_pin_the_torch_pair():
    text = (ROOT / "constraints.txt").read_text()
    assert "torch==2.14.1" in text and "torchvision==0.29.1" in text


def test_make_book_images_runs_the_papers_design():
    import subprocess

    dry = subprocess.run(["make", "-n", "book", "MODEL=alexnet_caffe", "IMAGES=/data/sample"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = [x for x in dry.splitlines() if "advlib reproduce" in x][-1]
    assert "--model alexnet_caffe" in line and "--images /data/sample --paper-design" in line
    plain = subprocess.run(["make", "-n", "book"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout
    assert "--paper-design" not in plain and "--images" not in plain
