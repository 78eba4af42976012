"""`glassnet info`: what runs on this machine — kernels, BLAS, the helper thread — and why."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

SCRIPT = shutil.which("glassnet", path=os.path.dirname(sys.executable)) or shutil.which("glassnet")
HAS_NUMBA = importlib.util.find_spec("numba") is not None
NUMBA_OFF = os.environ.get("GLASSNET_NO_NUMBA", "") not in ("", "0")


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    command = [SCRIPT, *args] if SCRIPT else [sys.executable, "-m", "glassnet", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def test_info_reports_the_fast_path_as_this_machine_has_it():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"]["glassnet"] and report["versions"]["numpy"]
    assert any(lib["internal_api"] for lib in report["blas"])
    nb, helper = report["numba"], report["helper"]
    assert nb["installed"] == HAS_NUMBA
    assert nb["enabled"] == (HAS_NUMBA and not NUMBA_OFF)
    # By default info compiles the kernels and builds the engine, to show they work.
    assert nb["kernels_compiled"] == nb["adam_compiled"] == nb["enabled"]
    assert helper["cpus"] == _cpus()
    assert helper["possible"] == (not helper["reasons"])
    if not nb["enabled"]:
        assert not helper["possible"] and "helper_ran" not in helper
        return
    if helper["blas_sgemm"] is None:  # NumPy on MKL/Accelerate: no engine, and info says why
        assert helper["reasons"] and helper["engine"].startswith("unavailable")
        return
    assert helper["engine"] == "built"
    assert helper["same_bits_either_thread"]
    if _cpus() >= 2:
        assert helper["possible"] and helper["helper_ran"] == helper["of_pairs"] == 5
    else:  # one CPU: the caller runs both halves, and info says why
        assert not helper["possible"] and helper["helper_ran"] == 0
        assert "one CPU" in " ".join(helper["reasons"])


def test_info_with_the_off_switch_says_so_and_compiles_nothing():
    result = run("info", GLASSNET_NO_NUMBA="1")
    assert result.returncode == 0, result.stderr
    assert "GLASSNET_NO_NUMBA=1" in result.stdout
    assert "helper thread: off here" in result.stdout
    assert "engine built" not in result.stdout


def test_info_no_compile_only_reports():
    result = run("info", "--no-compile", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert not report["numba"]["kernels_compiled"] and not report["numba"]["adam_compiled"]
    assert report["helper"]["engine"] == "not built yet"


def test_info_text_names_each_part():
    result = run("info", "--no-compile")
    assert result.returncode == 0, result.stderr
    for word in ("glassnet ", "BLAS:", "numba kernels", "helper thread", "flush-to-zero"):
        assert word in result.stdout, word
    assert result.stderr == ""


def test_a_plain_install_brings_numba_where_numba_has_wheels():
    # README command 1 is `pip install .`: numba must come with it on the platforms its wheels
    # cover (the environment marker in pyproject.toml), and not be required elsewhere.
    import platform
    from importlib.metadata import requires

    import pytest

    requirement_cls = pytest.importorskip("packaging.requirements").Requirement
    plain = [
        requirement_cls(text)
        for text in requires("glassnet") or []
        if "extra ==" not in text and requirement_cls(text).name == "numba"
    ]
    assert len(plain) == 1, "numba is not a dependency of a plain install (reinstall: pip -e .)"
    marker = plain[0].marker
    assert marker is not None
    wheels_here = (
        platform.python_implementation() == "CPython"
        and sys.version_info < (3, 16)
        and (sys.platform, platform.machine())
        in {("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"), ("win32", "AMD64")}
    )
    assert marker.evaluate() == wheels_here
    for env in ({"sys_platform": "linux", "platform_machine": "i686"},
                {"platform_python_implementation": "PyPy"}):  # fmt: skip
        assert not marker.evaluate(env)
