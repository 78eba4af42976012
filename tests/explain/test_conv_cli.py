"""``glassnet explain --example conv`` as the real command in a subprocess: the text trace, the
other formats, and one-sentence errors without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop, conv_example


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, GLASSNET_OFFLINE="1")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "glassnet", "explain", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_explain_example_conv_prints_the_text_trace() -> None:
    done = run("--example", "conv")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    model, x, y, loss = conv_example()
    trace = backprop(model, x, y, loss=loss)
    for heading in ("FORWARD PASS", "BACKWARD PASS", "CHECK", "Layer 2 (max pooling, 'pool')"):
        assert heading in out
    assert f"= {trace.stages[0].z[0, 0, 0, 0]:.6g}" in out  # z¹₁[1, 1], worked out
    assert f"= {trace.stages[0].grads['b'][0]:.6g}" in out  # ∂C/∂b¹₁
    assert "pad(δ¹₁) ⋆ rot180(W¹₁₁)" in out
    assert "the equations and the engine agree." in out


def test_explain_example_conv_bn_in_every_format(tmp_path: Path) -> None:
    page = run("--example", "conv-bn", "--format", "html", "--output", "t.html", cwd=tmp_path)
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "t.html").read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "batch normalisation" in html
    md = run("--example", "conv-bn", "--format", "markdown")
    assert md.returncode == 0 and r"\hat{x}" in md.stdout and "## Backward pass" in md.stdout
    data = json.loads(run("--example", "conv", "--format", "json").stdout)
    assert data["check"]["agree"] is True
    model, x, y, loss = conv_example()
    trace = backprop(model, x, y, loss=loss)
    np.testing.assert_allclose(data["stages"][0]["grads"]["W"], trace.stages[0].grads["W"])


def test_explain_example_errors_are_one_sentence() -> None:
    for args, words in (
        (["--example", "conv", "--weight", "w5"], "weight stories"),
        (["--example", "conv", "--notation", "seed004"], "glassnet's notation"),
        (["--example", "conv", "--graph", "g.dot"], "--graph"),
        (["--example", "mnist"], "--example"),
    ):
        done = run(*args)
        assert done.returncode != 0, args
        assert words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_explain_a_saved_convnet_on_a_data_set_sample(tmp_path: Path) -> None:
    """The --model path: Keras's convnet shape (Rescaling in front, as glassnet train --conv
    builds it), float32, saved and explained on an MNIST digit."""
    from glassnet.layers import Conv2D, Dense, Flatten, MaxPooling2D, Rescaling
    from glassnet.training import Sequential

    model = Sequential(
        [
            Rescaling(1 / 255, input_shape=(28, 28, 1)),
            Conv2D(3, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(str(tmp_path / "m.gn"))
    done = run("--model", "m.gn", "--dataset", "mnist-5k", "--index", "3", "--format", "json",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["check"]["agree"] is True
    assert data["model"]["architecture"].startswith("1×28×28 → 3×26×26 (conv relu)")
    assert any("Rescaling" in note for note in data["notes"])
    a0 = np.asarray(data["stages"][0]["a_prev"])
    assert a0.shape == (1, 1, 28, 28) and 0.0 <= a0.min() and a0.max() <= 1.0


def test_explain_example_conv_up_spreads_each_pooled_value_over_a_patch() -> None:
    """The transposed convolution of ``--example conv-up``, derived by hand from the example's
    weights: the 3×3 tent kernel T (0.1 at the corners, 0.2 at the edges, 0.4 in the middle;
    channel 2 at half of it), stride 2, Keras's "same" crop (none at the top), bias 0.02, so
    z[r', q'] = Σ_c Σ_{2r+i=r', 2q+j=q'} W_c[i, j] a_c[r, q] + 0.02."""
    model, x, y, loss = conv_example(transposed=True)
    trace = backprop(model, x, y, loss=loss)
    pooled, up = trace.stages[1].a[0], trace.stages[2]
    np.testing.assert_allclose(pooled[0], [[0.05, 0.45], [0.0, 0.55]], atol=1e-15)
    np.testing.assert_allclose(pooled[1], [[0.0, 0.25], [0.25, 0.0]], atol=1e-15)
    assert up.z.shape == (1, 1, 4, 4)
    # [0, 0]: only a[0, 0] reaches it, through the kernel's corner
    assert up.z[0, 0, 0, 0] == pytest.approx(0.1 * 0.05 + 0.02, abs=1e-15)
    # [1, 1]: a[0, 0] through the kernel's middle (channel 2 is 0 there)
    assert up.z[0, 0, 1, 1] == pytest.approx(0.4 * 0.05 + 0.02, abs=1e-15)
    # [2, 2]: the four pooled values overlap there, each through a corner of the kernel
    corners = 0.1 * (0.05 + 0.45 + 0.0 + 0.55) + 0.05 * (0.0 + 0.25 + 0.25 + 0.0)
    assert up.z[0, 0, 2, 2] == pytest.approx(corners + 0.02, abs=1e-15)
    trace.check(rtol=1e-10, atol=1e-12)
    done = run("--example", "conv-up")
    assert done.returncode == 0, done.stderr
    assert "Layer 3 (transposed convolution, 'up')" in done.stdout
    assert "the equations and the engine agree." in done.stdout


def test_conv_example_takes_one_variant() -> None:
    with pytest.raises(InvalidArgumentError, match="batchnorm and transposed"):
        conv_example(batchnorm=True, transposed=True)
