"""Find, describe and run the Keras-guide snippets (used by test_guides.py and
tools/keras_guides_report.py).

Each snippet is a file ``<guide>/<NN>_<name>.py`` whose header comment says where it comes from
and whether it is expected to run on glassnet (``category: runs``) or is left out of the pass
rate (``needs-conv``, ``needs-recurrent``, ``backend-specific``, with a ``reason:``). A snippet
runs in its own Python process (a fresh interpreter: nothing leaks between snippets, and a hang
is killed at the timeout and counts as a failure), in a scratch directory, with the glassnet
package that the caller imported first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES_FILE = HERE / "known_failures.toml"

# The five guides, in the order keras.io lists them.
GUIDES = (
    "sequential_model",
    "functional_api",
    "training_with_built_in_methods",
    "making_new_layers_and_models_via_subclassing",
    "writing_your_own_callbacks",
)
ELIGIBLE = "runs"
EXCLUDED = ("needs-conv", "needs-recurrent", "backend-specific")
REQUIRED_KEYS = ("source", "section", "cells", "category", "changed")
SNIPPET_MARKER = "# --- snippet ---"
DEFAULT_TIMEOUT = float(os.environ.get("GLASSNET_GUIDES_TIMEOUT", "120"))

_HEADER_LINE = re.compile(r"^# ([a-z]+): (.*)$")
_FILE_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.py$")


@dataclass(frozen=True)
class Snippet:
    guide: str
    path: Path
    header: dict[str, str]
    snippet_line: int  # first line of the guide's own cell(s); the lines above are the prelude

    @property
    def id(self) -> str:
        return f"{self.guide}/{self.path.stem}"

    @property
    def category(self) -> str:
        return self.header["category"]

    @property
    def eligible(self) -> bool:
        return self.category == ELIGIBLE

    @property
    def reason(self) -> str:
        return self.header.get("reason", "")


@dataclass
class Result:
    snippet: Snippet
    passed: bool
    seconds: float
    error: str = ""  # the exception line (or "timeout after N s"); empty when it passed
    where: str = ""  # "prelude", "snippet", "setup" (the import lines) or "" when unknown
    output_tail: list[str] = field(default_factory=list)

    def describe(self) -> str:
        place = f" (in the {self.where})" if self.where else ""
        tail = "\n".join(self.output_tail)
        return f"{self.snippet.id} failed{place}: {self.error}\n--- last output lines ---\n{tail}"


def parse_header(path: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a snippet file."""
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER_LINE.match(line)
        if match is None:
            break
        header[match.group(1)] = match.group(2)
    return header


def discover(root: Path = HERE) -> list[Snippet]:
    """Every snippet of the five guides, in guide order then file order."""
    snippets = []
    for guide in GUIDES:
        for path in sorted((root / guide).glob("*.py")):
            if not _FILE_NAME.match(path.name):
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            marker = next((i + 1 for i, text in enumerate(lines) if text == SNIPPET_MARKER), 0)
            snippets.append(Snippet(guide, path, parse_header(path), marker))
    return snippets


def header_problems(snippet: Snippet) -> list[str]:
    """What is missing or wrong in a snippet's header (empty when it is complete)."""
    problems = [f"no '# {key}:' line" for key in REQUIRED_KEYS if key not in snippet.header]
    category = snippet.header.get("category")
    if category is not None and category not in (ELIGIBLE, *EXCLUDED):
        problems.append(f"category {category!r} is not one of {(ELIGIBLE, *EXCLUDED)}")
    if category in EXCLUDED and not snippet.reason:
        problems.append(f"category {category!r} needs a '# reason:' line")
    if snippet.snippet_line == 0:
        problems.append(f"no {SNIPPET_MARKER!r} line")
    return problems


def glassnet_source_dir() -> Path:
    """The directory holding the glassnet package this process imports, so that snippets run
    against the same copy (a worktree's src/ rather than an installed one)."""
    import glassnet

    return Path(glassnet.__file__).resolve().parent.parent


def snippet_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(glassnet_source_dir()), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["MPLBACKEND"] = "Agg"  # in case a snippet plots: never open a window
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_snippet(snippet: Snippet, workdir: Path, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Run one snippet in a fresh interpreter inside ``workdir``; pass means exit status 0."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(snippet.path)],
            cwd=workdir,
            env=snippet_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        seconds = time.perf_counter() - started
        output = _text(expired.stdout) + _text(expired.stderr)
        return Result(snippet, False, seconds, f"timeout after {timeout:g} s", "", _tail(output))
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return Result(snippet, True, seconds)
    error, where = _diagnose(snippet, done.stderr, done.returncode)
    return Result(snippet, False, seconds, error, where, _tail(done.stdout + done.stderr))


def _text(stream: Any) -> str:
    if stream is None:
        return ""
    return stream.decode(errors="replace") if isinstance(stream, bytes) else str(stream)


def _tail(output: str, lines: int = 15) -> list[str]:
    return output.rstrip().splitlines()[-lines:]


def _diagnose(snippet: Snippet, stderr: str, returncode: int) -> tuple[str, str]:
    """The exception line of a failed run and where in the file it was raised from."""
    lines = [line for line in stderr.rstrip().splitlines() if line.strip()]
    error = lines[-1].strip() if lines else f"exit status {returncode}, nothing on stderr"
    # Without this machine's paths, so that the line can be compared across checkouts.
    error = error.replace(str(glassnet_source_dir()) + os.sep, "").replace(str(HERE) + os.sep, "")
    frame = re.compile(r'^\s*File "' + re.escape(str(snippet.path)) + r'", line (\d+)')
    numbers = [int(m.group(1)) for line in lines if (m := frame.match(line))]
    if not numbers:
        return error, ""
    line = numbers[-1]
    if line >= snippet.snippet_line:
        return error, "snippet"
    first_cell = _first_prelude_line(snippet)
    return error, "prelude" if first_cell and line >= first_cell else "setup"


def _first_prelude_line(snippet: Snippet) -> int:
    lines = snippet.path.read_text(encoding="utf-8").splitlines()
    return next((i + 1 for i, text in enumerate(lines) if text.startswith("# --- prelude")), 0)


# --- the known-failures list ---------------------------------------------------------------


@dataclass(frozen=True)
class KnownFailures:
    min_pass_rate: float
    target_pass_rate: float
    failures: dict[str, str]  # snippet id -> reason (why it fails, in words)
    errors: dict[str, str]  # snippet id -> the error line seen when the reason was written


def load_known_failures(path: Path = KNOWN_FAILURES_FILE) -> KnownFailures:
    """Entries are ``"<guide>/<file stem>" = { reason = "...", error = "..." }`` (or just a
    reason string)."""
    data = _read_toml(path)
    failures, errors = {}, {}
    for key, value in data.get("failures", {}).items():
        entry = value if isinstance(value, dict) else {"reason": value}
        failures[str(key)] = str(entry["reason"])
        errors[str(key)] = str(entry.get("error", ""))
    return KnownFailures(
        min_pass_rate=float(data["min_pass_rate"]),
        target_pass_rate=float(data["target_pass_rate"]),
        failures=failures,
        errors=errors,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the tomli backport, when installed
        import importlib

        tomllib = importlib.import_module("tomli")
    with path.open("rb") as handle:
        return dict(tomllib.load(handle))


def pass_rate(eligible: int, failing: int) -> float:
    return (eligible - failing) / eligible if eligible else 0.0
