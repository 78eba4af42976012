"""`glassnet train --lang zh` and `glassnet explain --lang zh` as real processes: the progress,
the summary, the doctor's advice, the saved report and the weight's story in Chinese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _zh import english_left

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        GLASSNET_OFFLINE="1",
        COLUMNS="100",
    )
    return subprocess.run(
        [sys.executable, "-m", "glassnet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_train_speaks_chinese_from_progress_to_report(tmp_path: Path) -> None:
    # A learning rate of 10,000 diverges in the first epoch: the doctor and the notes speak.
    args = ["train", "--dataset", "moons", "--epochs", "3", "--optimizer", "sgd"]
    args += ["--learning-rate", "1e4", "--output", "m.safetensors", "--report", "r.html"]
    done = run(*args, "--lang", "zh", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = out.splitlines()
    assert lines[0].startswith("glassnet train：moons：训练样本 320 个，测试样本 80 个，共 2 类")
    assert any(line.startswith("第 1/3 轮 - 10 步 - ") for line in lines), out
    assert "诊断：警告：学习率过高（lr_too_high）（第 1 轮）：损失不再是有限数" in out
    assert "建议：把学习率（当前为 10,000 (SGD)）降低到原来的 1/3 到 1/10" in out
    assert "测试损失：nan - 测试准确率：" in out and "（在第 1 轮（共 3 轮）停止，用时" in out
    assert "注意：损失在第 1 轮第 " in out and "模型已保存到 m.safetensors" in out
    assert "训练报告已写入 r.html" in out
    # the command, the data set and metric keys (loss: 1.7e+35 - accuracy: 0.40) are names,
    # as Keras prints them
    left = english_left(out.replace("glassnet train：moons：", ""))
    assert left == [], sorted(set(left))
    assert "RuntimeWarning" not in done.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in page and ">诊断结论</h2>" in page and "学习率过高" in page
    # The same run in English (the default) is unchanged.
    english = run(*args, cwd=tmp_path)
    assert english.returncode == 0, english.stderr
    assert (
        "Epoch 1/3 - 10 steps" in english.stdout
        and "Doctor: warning: lr_too_high" in english.stdout
    )
    assert "test loss: nan" in english.stdout and "saved the model to" in english.stdout


def test_explain_tells_the_weight_story_in_chinese(tmp_path: Path) -> None:
    done = run("explain", "--lang", "zh", "--weight", "w1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("第 004 篇的手算例子") and "0.298371109" in out
    assert "追踪一个权重" in out and "路径 1" in out and "路径 2" in out and "局部导数：" in out
    assert "BP4 给出相同的结果" in out
    assert english_left(out) == [], sorted(set(english_left(out)))
    html = run("explain", "--lang", "zh", "--format", "html", "--output", "t.html", cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    assert html.stdout.strip() == "已把 html 写入 t.html"
    assert '<html lang="zh">' in (tmp_path / "t.html").read_text(encoding="utf-8")


def test_a_bad_language_is_a_usage_error(tmp_path: Path) -> None:
    done = run("train", "--lang", "fr", cwd=tmp_path)
    assert done.returncode == 2
    assert "argument --lang: invalid choice: 'fr'" in done.stderr
    assert "Traceback" not in done.stderr
