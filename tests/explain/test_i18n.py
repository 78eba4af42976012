"""Chinese traces (issue 17, build item 2, for the trace renderers and `glassnet explain`):
gettext catalogues, the same numbers as in English."""

from __future__ import annotations

import gettext
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain import backprop, seed004_example
from glassnet.explain.i18n import LOCALE_DIR
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential


@pytest.fixture(scope="module")
def traces():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    rng = np.random.default_rng(1)
    batch = Sequential(
        [
            Dense(3, activation="tanh", input_dim=2, dtype="float64"),
            Dense(2, activation="softmax", dtype="float64"),
        ]
    )
    batch.build((2,))
    return [
        backprop(model, x, y, loss=loss, learning_rate=lr),
        backprop(batch, rng.normal(size=(3, 2)), [0, 1, 1], loss="sparse_categorical_crossentropy"),
    ]


ENGLISH_HEADINGS = [
    "Forward pass",
    "Backward pass",
    "weighted input",
    "output error of layer",
    "gradient of the weights",
    "Verdict",
    "hidden layer",
    "new weights of layer",
]


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)


def test_chinese_text_has_the_same_numbers_and_no_english_headings(traces) -> None:  # type: ignore[no-untyped-def]
    for trace in traces:
        en, zh = trace.to_text(precision=9), trace.to_text(precision=9, lang="zh")
        assert _numbers(zh) == _numbers(en)
        assert not [h for h in ENGLISH_HEADINGS if h in zh]
        assert "前向传播" in zh and "反向传播" in zh and "结论：方程与引擎一致。" in zh
    seed004 = traces[0]
    assert "第 2 层（输出层）的误差" in seed004.to_text(lang="zh")
    assert "第 3 层（输出层）的误差" in seed004.to_text(lang="zh", notation="seed000")
    page = seed004.to_html(lang="zh")
    assert '<html lang="zh">' in page and 'class="ok">结论' in page
    assert "前向传播" in seed004.to_markdown(lang="zh")
    assert seed004.to_dict(lang="zh")["title"].startswith("反向传播逐步追踪")
    with pytest.raises(InvalidArgumentError, match="lang must be one of"):
        seed004.to_text(lang="fr")


def test_the_compiled_catalogue_matches_its_source() -> None:
    pofile = pytest.importorskip("babel.messages.pofile")
    po = LOCALE_DIR / "zh" / "LC_MESSAGES" / "glassnet.po"
    with po.open("rb") as handle:
        source = {m.id: m.string for m in pofile.read_po(handle) if m.id}
    with (po.with_suffix(".mo")).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert source and all(compiled.gettext(k) == v for k, v in source.items())
    assert all(v for v in source.values())  # every message translated
    # every placeholder of the English is in the Chinese
    for k, v in source.items():
        assert set(re.findall(r"\{\w+\}", k)) == set(re.findall(r"\{\w+\}", v)), k


def test_the_command_speaks_chinese() -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "glassnet", "explain", "--lang", "zh", "--weight", "w5"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("第 004 篇的手算例子")
    assert "0.298371109" in done.stdout
