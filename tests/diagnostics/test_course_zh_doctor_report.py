"""Chinese for the doctor's findings, the training report and the plots (issue 17, build
item 2): the same findings at the same epochs as in English, told in Chinese; a report whose
headings, captions, table headers, findings and trace are Chinese; plots drawn with a CJK font."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest

import glassnet as gn
from _zh import english_left
from glassnet import i18n
from glassnet.diagnostics import Doctor, diagnose, plots
from glassnet.diagnostics.report import render_report
from glassnet.layers import Dense
from glassnet.optim import optimizers
from glassnet.training import Sequential


def _run(learning_rate: float, doctor: Doctor | None = None):  # type: ignore[no-untyped-def]
    """moons, one tanh layer, 8 epochs of SGD: 2.0 is too high a rate (one finding), 8.0 far
    too high (three: the rate, overfitting, saturated units)."""
    (x, y), (xt, yt) = gn.datasets.load("moons")
    gn.seed(0)
    model = Sequential(
        [Dense(16, activation="tanh", input_shape=(2,)), Dense(2, activation="softmax")]
    )
    sgd = optimizers.get("sgd")
    sgd.learning_rate = learning_rate
    model.compile(optimizer=sgd, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(
            x,
            y,
            epochs=8,
            batch_size=32,
            validation_split=0.2,
            verbose=0,
            callbacks=[doctor] if doctor is not None else None,
        )
    return history, model, xt, yt


@pytest.fixture(scope="module")
def wild():  # type: ignore[no-untyped-def]
    return _run(8.0)


def test_findings_in_chinese_match_the_english_ones(wild) -> None:  # type: ignore[no-untyped-def]
    history, model, _, _ = wild
    en, zh = diagnose(history, model), diagnose(history, model, lang="zh")
    assert len(en) >= 3
    assert [(f.rule, f.layer, f.epoch, f.severity) for f in zh] == [
        (f.rule, f.layer, f.epoch, f.severity) for f in en
    ]
    titles = {"lr_too_high": "学习率过高", "overfitting": "过拟合", "saturation": "神经元饱和"}
    for e, z in zip(en, zh):
        assert z.lang == "zh" and e.lang == "en"
        assert english_left(z.evidence) == [] and english_left(z.suggestion) == [], str(z)
        # the numbers of the evidence are the same (in the order each language puts them)
        number = r"\d+(?:[.,]\d+)*(?:e[+-]?\d+)?"
        assert sorted(re.findall(number, z.evidence)) == sorted(re.findall(number, e.evidence))
        if z.rule in titles:
            assert z.title == titles[z.rule]
            assert str(z).startswith(
                f"{'警告' if z.severity == 'warning' else '提示'}：{titles[z.rule]}"
            )
        assert str(e).startswith(f"{e.severity}: {e.rule}")  # English as before
        assert z.as_dict()["lang"] == "zh"


def test_the_doctor_prints_chinese_during_fit() -> None:
    out = io.StringIO()
    history, *_ = _run(2.0, Doctor(lang="zh", stream=out, verbose=1))
    text = out.getvalue()
    assert "诊断：警告：学习率过高（lr_too_high）" in text and "建议：把学习率" in text
    assert "诊断：发现 1 个问题（详见 history.findings）：" in text
    assert english_left(text) == [], english_left(text)
    assert history.findings[0].lang == "zh"
    # Without lang= the doctor speaks the language current when training starts.
    out = io.StringIO()
    with i18n.using("zh"):
        _run(2.0, Doctor(stream=out, verbose=1))
    assert "诊断：" in out.getvalue()


def test_the_report_in_chinese(wild) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    history, model, xt, yt = wild
    assert history.findings and history.findings[0].lang == "en"  # the doctor spoke English
    page = render_report(history, model, xt, yt, lang="zh")
    assert '<html lang="zh">' in page
    for heading in ("概要", "诊断结论", "训练曲线", "层的内部", "训练好的模型", "配置"):
        assert f">{heading}</h2>" in page
    assert "一个测试样本的反向传播" in page and "前向传播" in page  # the trace, in Chinese
    assert "学习率过高" in page and "怎么办：" in page  # findings told again in Chinese
    assert "<th>饱和比例</th>" in page and "<figcaption>每个小批量步的损失" in page
    left = english_left(page)
    assert left == [], sorted(set(left))
    english = render_report(history, model, xt, yt)
    assert '<html lang="en">' in english and ">Summary</h2>" in english


def test_plots_in_chinese_use_a_cjk_font(wild) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    from matplotlib import font_manager

    font = plots.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    history, model, xt, yt = wild
    figures = [
        plots.loss_curves(history, lang="zh"),
        plots.step_losses(history, lang="zh"),
        plots.gradient_norms(history, lang="zh"),
        plots.layer_health(history, lang="zh"),
        plots.confusion_matrix(yt, model.predict(xt), lang="zh"),
        plots.decision_boundary(model, xt, yt, lang="zh"),
        plots.weight_histograms(model, lang="zh"),
    ]
    for fig in figures:
        texts = [t for ax in fig.axes for t in [ax.title, ax.xaxis.label, ax.yaxis.label]]
        texts += list(fig.texts) + [t for ax in fig.axes for t in ax.texts]
        shown = [t for t in texts if t.get_text()]
        chinese = [t for t in shown if re.search("[\u4e00-\u9fff]", t.get_text())]
        assert chinese, [t.get_text() for t in shown]
        for t in chinese:
            assert font in t.get_fontfamily()
            found = font_manager.findfont(font_manager.FontProperties(family=font))
            assert "CJK" in found or "cjk" in found.lower()
        assert all(english_left(t.get_text()) == [] for t in shown), [t.get_text() for t in shown]
    assert figures[0].axes[0].get_title() == "损失" and figures[0].axes[0].get_xlabel() == "轮次"
    assert plots.loss_curves(history).axes[0].get_xlabel() == "epoch"


def test_a_missing_cjk_font_is_said_clearly(wild, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with pytest.warns(RuntimeWarning, match="no CJK font is installed.*fonts-noto-cjk"):
        plots.loss_curves(wild[0], lang="zh")


def test_a_bad_language_is_refused(wild) -> None:  # type: ignore[no-untyped-def]
    history, model, _, _ = wild
    with pytest.raises(gn.errors.InvalidArgumentError, match="lang must be one of en, zh"):
        diagnose(history, model, lang="fr")
    with pytest.raises(gn.errors.InvalidArgumentError, match="lang must be one of en, zh"):
        plots.loss_curves(history, lang="fr")
    with pytest.raises(gn.errors.InvalidArgumentError, match="lang must be one of en, zh"):
        Doctor(lang="fr")
    assert np.isfinite(history.history["loss"]).all()
