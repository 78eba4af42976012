"""Usage errors and help (issue 19, item 5): every option of every subcommand says what it
does and its default; a value that cannot be meant (``--epochs 0``, an unknown data set,
``--start`` above ``--end``) is a usage error, exit 2, one line, before any work or file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from glassnet import cli


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    sub = _subparsers()[command]
    text = sub.format_help()
    for action in sub._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        default = action.default
        if default not in (None, False) and default is not argparse.SUPPRESS:
            shown = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            # argparse wraps the help text (also at hyphens): compare without white space.
            expected = "".join(f"(default: {shown})".split())
            assert expected in "".join(text.split()), (command, action.dest)


def test_lr_find_help_describes_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "lr-find", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "--start START learning rate of the first step (default: 1e-07)" in flat
    assert "--steps STEPS training steps" in flat and "(default: 100)" in flat


@pytest.mark.parametrize(
    "argv, named",
    [
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--epochs", "-3"], "--epochs"),
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--dropout", "1"], "--dropout"),
        (["train", "--validation-split", "1.5"], "--validation-split"),
        (["train", "--learning-rate", "0"], "--learning-rate"),
        (["train", "--layers", "0"], "--layers"),
        (["lr-find", "--steps", "1"], "--steps"),
        (["lr-find", "--start", "1", "--end", "0.1"], "--end must be larger than --start"),
        (["lr-find", "--start", "nan"], "--start"),
        (["gradcheck", "--inputs", "0"], "--inputs"),
        (["explain", "--index", "-1"], "--index"),
        (["train", "--dataset", "mnits"], "unknown data set 'mnits' (did you mean 'mnist'?)"),
        (["lr-find", "--dataset", "nope"], "unknown data set 'nope'"),
        (["explain", "--model", "m.safetensors", "--dataset", "nope"], "unknown data set"),
    ],
)
def test_impossible_values_are_usage_errors_before_any_work(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    named: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    saved = tmp_path / "glassnet-model.safetensors"
    saved.write_bytes(b"a model trained earlier")
    code, out, err = run_main(capsys, *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in err
    assert out == ""
    # Nothing was trained, so nothing was overwritten (--epochs 0 used to save a new model).
    assert saved.read_bytes() == b"a model trained earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == [saved.name]


def test_data_set_names_are_accepted_as_load_accepts_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--dataset", "Fashion_MNIST"])
    assert args.dataset == "Fashion_MNIST"
