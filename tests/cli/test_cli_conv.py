"""glassnet train --conv: Keras's MNIST convnet from the command line, and its usage errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(*args, cwd=None):
    env = dict(os.environ, GLASSNET_OFFLINE="1")
    command = [sys.executable, "-m", "glassnet", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_train_conv_trains_and_saves_the_keras_convnet(tmp_path):
    out = tmp_path / "convnet.safetensors"
    result = run(
        "train", "--conv", "4,8", "--epochs", "1", "--output", str(out), "--quiet", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.3  # one epoch of 32 steps on mnist-5k; chance is 0.1
    import glassnet as gn

    model = gn.load_model(out)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Rescaling",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert model.layers[6].rate == 0.5
    # 3×3×1×4 + 4, 3×3×4×8 + 8, (5·5·8)×10 + 10
    assert model.count_params() == 40 + 296 + 2010


@pytest.mark.parametrize(
    "value,says",
    [
        ("32,x", "expected comma-separated positive filter counts"),
        ("0", "expected comma-separated positive filter counts"),
        ("32,,64", "expected comma-separated positive filter counts"),
        ("32,64,128,256,512", "shrink 28×28 images to nothing"),
    ],
)
def test_a_bad_conv_value_is_one_sentence_and_exit_2(tmp_path, value, says):
    result = run("train", "--conv", value, "--epochs", "1", "--output", str(tmp_path / "m"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--conv" in lines[0] and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_conv_on_a_data_set_without_images_is_exit_2(tmp_path):
    result = run("train", "--dataset", "iris", "--conv", "8", "--output", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "must be images" in result.stderr and len(result.stderr.strip().splitlines()) == 1
