"""Chinese for the convolution filters' findings, the report's convolution section and the
notebook displays (issue 17, build item 2): under lang="zh" / ``i18n.using("zh")`` they are
Chinese, with no untranslated English sentence, the same filters and numbers as the English,
and every message looked up found in the catalogue."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import glassnet as gn
from _html_parse import Page
from _zh import english_left
from glassnet import i18n
from glassnet import layers as L
from glassnet.diagnostics import Findings, diagnose, lr_find
from glassnet.diagnostics.conv_report import conv_section
from glassnet.diagnostics.report import render_report
from glassnet.layers import Conv2D, Dense, Flatten, MaxPooling2D
from glassnet.optim import Adam
from glassnet.training import Sequential
from glassnet.training import progress as progress_module
from glassnet.training.progress import Progress

NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
# Names the conv section and findings print besides the layer names: layer classes and a
# keyword argument's value, and max of "± max |W|".
CONV_NAMES = {"batchnormalization", "he_normal", "max"}


def _left(text: str) -> list[str]:
    return [w for w in english_left(text) if w.lower() not in CONV_NAMES]


def _convnet(activation: str, biases: dict[int, float]) -> tuple[Sequential, object, np.ndarray]:
    """8 filters of 3×3 on 8×8 digits, the given filters' biases set (dead or saturated)."""
    (x, y), (xt, _) = gn.datasets.load("digits")
    x = (x[:600] / 16.0).astype("float32")[..., None]
    gn.seed(0)
    model = Sequential(
        [
            Conv2D(8, 3, activation=activation, input_shape=(8, 8, 1)),
            MaxPooling2D(2),
            Flatten(),
            Dense(10, activation="softmax"),
        ]
    )
    for f, b in biases.items():
        model.layers[0].b.data[f] = b
    model.compile(optimizer=Adam(learning_rate=0.005), loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(x, y[:600], epochs=2, batch_size=32, verbose=0, telemetry=5)
    return model, history, (xt[:10] / 16.0).astype("float32")[..., None]


@pytest.fixture(scope="module")
def dead():  # type: ignore[no-untyped-def]
    return _convnet("relu", {1: -100.0, 3: -100.0})


def test_dead_filters_are_told_in_chinese(dead) -> None:  # type: ignore[no-untyped-def]
    model, history, _ = dead
    (en,) = [f for f in diagnose(history, model) if f.rule == "dead_filters"]
    (zh,) = [f for f in diagnose(history, model, lang="zh") if f.rule == "dead_filters"]
    assert (zh.layer, zh.epoch, zh.severity) == (en.layer, en.epoch, en.severity)
    assert "filters 1 and 3, counted from 0" in en.evidence  # the English is unchanged
    assert "第 1 和 3 号卷积核" in zh.evidence and "已经死亡" in zh.evidence
    assert zh.title == "死亡的卷积核" and str(zh).startswith("警告：死亡的卷积核")
    assert "批归一化" in zh.suggestion and "He 初始化" in zh.suggestion
    assert _left(zh.evidence) == [] and _left(zh.suggestion) == [], str(zh)
    assert sorted(NUMBER.findall(zh.evidence)) == sorted(NUMBER.findall(en.evidence))


def test_saturated_filters_are_told_in_chinese() -> None:
    model, history, _ = _convnet("tanh", {0: 10.0, 2: 10.0})
    (en,) = [f for f in diagnose(history, model) if f.rule == "saturated_filters"]
    (zh,) = [f for f in diagnose(history, model, lang="zh") if f.rule == "saturated_filters"]
    assert "respectively" in en.evidence and "filters 0 and 2" in en.evidence
    assert "第 0 和 2 号卷积核" in zh.evidence and "已经饱和" in zh.evidence
    assert "依次对应" in zh.evidence and zh.title == "饱和的卷积核"
    assert _left(zh.evidence) == [] and _left(zh.suggestion) == [], str(zh)
    assert sorted(NUMBER.findall(zh.evidence)) == sorted(NUMBER.findall(en.evidence))


def test_the_reports_convolution_section_is_chinese(dead) -> None:  # type: ignore[no-untyped-def]
    model, history, xt = dead
    english = conv_section(model, history, xt)
    with i18n.using("zh"):
        section = conv_section(model, history, xt)
    assert english is not None and section is not None
    assert "1 · dead" in english and "1 · 死亡" in section and "dead" not in section
    assert "的卷积核：8 个 3×3 的卷积核，作用于 1 个输入通道" in section
    assert "经过 <code>conv2d</code> 之后（第一个卷积层，relu）：8 张 6×6 的特征图" in section
    tips = re.findall(r'<figure class="gn-unit flagged" title="([^"]*)">', section)
    assert tips and tips[0].startswith("卷积核 1（最后一轮的中位数）；100% 的输出处 z ≤ 0")
    assert _left(section) == [], _left(section)
    # The same images in either language.
    assert re.findall(r'src="([^"]+)"', section) == re.findall(r'src="([^"]+)"', english)
    page = render_report(history, model, xt, np.zeros(len(xt), dtype=int), lang="zh")
    assert "卷积核与特征图" in page and "死亡的卷积核" in page


def _fit_small() -> tuple[Sequential, object, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((200, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 2).astype(np.int64)
    gn.seed(0)
    model = gn.Sequential(
        [L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2, activation="softmax")]
    )
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x * 100, y, epochs=3, batch_size=16, verbose=0)  # unscaled: a finding
    return model, history, x, y


def test_the_notebook_displays_are_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    model, history, x, y = _fit_small()
    with pytest.warns(UserWarning, match="already trained"):
        result = lr_find(model, x, y, steps=40)
    with i18n.using("zh"):
        model_page = Page(model._repr_html_())
        history_html = history._repr_html_()
        findings_page = Page(history.findings._repr_html_())
        empty = Findings()._repr_html_()
        lr_html = result._repr_html_()
        lr_text = str(result)
        monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
        bar = Progress(5, 100, verbose=1)
        bar.epoch_begin(2)
        bar_page = Page(bar._html_bar(40, {"loss": 0.5}, bar._started + 20.0))
    (table,) = model_page.tables
    assert table[0] == ["层（类型）", "输出形状", "参数个数"]
    text = model_page.all_text()
    assert "参数总数：58" in text and "可训练参数：58" in text and "不可训练参数：0" in text
    assert "已编译：优化器 SGD、损失函数 SparseCategoricalCrossentropy、指标 accuracy" in text
    assert Page(history_html).tables[0][0][:2] == ["轮次", "loss"]
    assert findings_page.tables[0][0] == ["级别", "规则", "层", "轮次", "证据", "怎么办"]
    assert findings_page.tables[0][1][0] in ("警告", "提示")
    assert f"诊断：{len(history.findings)} 项发现" in findings_page.all_text()
    assert "诊断：没有发现问题。" in empty
    assert "学习率范围测试（Smith 2015）：" in lr_text and "建议的学习率：" in lr_text
    assert "注意：模型已经训练过（优化器走了 39 步）" in lr_text
    assert english_left(lr_html) == [] and "平滑后的损失" in lr_html
    bar_text = bar_page.all_text()
    assert "第 3/5 轮" in bar_text and "40/100" in bar_text
    assert "已用 0:20" in bar_text and "elapsed" not in bar_text
    with i18n.using("zh"):
        printed: list[str] = []
        model.summary(print_fn=printed.append)
    assert printed[0].startswith('模型："') and "参数总数：58" in printed[0]
    # The English stays English.
    assert Page(model._repr_html_()).tables[0][0] == ["Layer (type)", "Output Shape", "Param #"]


def test_no_message_of_these_chinese_displays_went_untranslated(dead) -> None:  # type: ignore[no-untyped-def]
    model, history, xt = dead
    diagnose(history, model, lang="zh")
    with i18n.using("zh"):
        conv_section(model, history, xt)
        conv_section(model, history, None)
        model._repr_html_()
        history._repr_html_()
        Findings()._repr_html_()
    assert {m for lang, m in i18n.untranslated() if lang == "zh"} == set()
