"""The allocator settings: applied once, inherited by child processes, never over a user's."""

import json
import os
import platform
import subprocess
import sys

import pytest

from advlib import allocator

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# the module alone (not the advlib package, whose imports take seconds)
_PROBE = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tune_allocator = module.tune_allocator
first = tune_allocator()
again = tune_allocator()
print(json.dumps({"first": first, "again": again,
                  "env": {k: os.environ.get(k) for k in
                          ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                           "MALLOC_TOP_PAD_")}}))
"""


def _probe(extra_env: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", _PROBE, allocator.__file__], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_tune_allocator_sets_each_setting_once_and_exports_it():
    got = _probe({})
    assert got["first"] == {"MALLOC_MMAP_THRESHOLD_": 32 * 1024 ** 2,
                            "MALLOC_TRIM_THRESHOLD_": 2 ** 31 - 1,
                            "MALLOC_TOP_PAD_": 64 * 1024 ** 2}
    assert got["again"] == {}                       # idempotent
    assert got["env"] == {k: str(v) for k, v in got["first"].items()}


def test_tune_allocator_leaves_a_users_setting_alone():
    got = _probe({"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert "MALLOC_MMAP_THRESHOLD_" not in got["first"]
    assert got["env"]["MALLOC_MMAP_THRESHOLD_"] == "65536"
    assert got["env"]["MALLOC_TOP_PAD_"] == str(64 * 1024 ** 2)


def test_tune_allocator_leaves_a_users_glibc_tunables_alone():
    got = _probe({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"})
    assert got["first"] == {} and set(got["env"].values()) == {None}
