"""Chinese for the weight stories, worksheets and the checker, the network diagram and the
trace's notes (issue 17, build item 2): real Chinese, no English sentence left, the same numbers
as the English, and a catalogue entry for every message the package uses."""

from __future__ import annotations

import re

import numpy as np
import pytest

from _zh import english_left, messages_in_code
from glassnet import i18n
from glassnet.explain import backprop, diagram, seed004_example, worksheet
from glassnet.nn.layers import Dense
from glassnet.training.model import Sequential

NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def _catalogue() -> dict[str, str]:
    pofile = pytest.importorskip("babel.messages.pofile")
    with (i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "glassnet.po").open("rb") as handle:
        return {m.id: m.string for m in pofile.read_po(handle) if m.id}


@pytest.fixture(scope="module")
def traces():  # type: ignore[no-untyped-def]
    model, x, y, loss, lr = seed004_example()
    rng = np.random.default_rng(3)
    softmax = Sequential(
        [
            Dense(3, activation="tanh", input_dim=2, dtype="float64"),
            Dense(2, activation="softmax", dtype="float64"),
        ]
    )
    softmax.build((2,))
    deep = Sequential(
        [
            Dense(6, activation="relu", input_dim=3, dtype="float64"),
            Dense(5, activation="sigmoid", dtype="float64"),
            Dense(1, activation="sigmoid", dtype="float64"),
        ]
    )
    deep.build((3,))
    return {
        "seed004": backprop(model, x, y, loss=loss, learning_rate=lr),
        "softmax": backprop(
            softmax, rng.normal(size=(3, 2)), [0, 1, 1], "sparse_categorical_crossentropy", 0.1
        ),
        "deep": backprop(deep, rng.normal(size=(2, 3)), [[1.0], [0.0]], "binary_crossentropy", 0.1),
    }


def test_every_message_the_package_uses_has_a_chinese_translation() -> None:
    """Collected from the code (every literal given to t() or N_()): a message added without
    its translation fails here, with where it is."""
    catalogue = _catalogue()
    used = messages_in_code()
    assert len(used) > 250  # the collector sees the messages (not an empty pass)
    missing = {m: where for m, where in used.items() if not catalogue.get(m)}
    assert not missing, missing
    for message in used:
        fields = set(re.findall(r"\{\w*\}", message))
        assert fields == set(re.findall(r"\{\w*\}", catalogue[message])), message


def test_the_weight_story_speaks_chinese(traces) -> None:  # type: ignore[no-untyped-def]
    for name, trace in traces.items():
        for l, j, k in ((1, 1, 1), (trace.L, 1, 1)):
            story = trace.path(l, j, k)
            for kind in ("to_text", "to_markdown", "to_html"):
                en = getattr(story, kind)()
                zh = getattr(story, kind)(lang="zh")
                assert NUMBER.findall(zh) == NUMBER.findall(en), (name, kind)
                assert english_left(zh) == [], (name, kind, english_left(zh))
                assert "局部导数" in zh and "BP4" in zh
                assert english_left(en)  # the English stays English
    w1 = traces["seed004"].path("w1").to_text(lang="zh")
    assert "路径 1" in w1 and "路径 2" in w1 and "✓ 与 BP4 算出的" in w1
    # A batch story says which sample; a softmax output's note is translated when rendered.
    batch = traces["softmax"].path(2, 1, 1).to_text(lang="zh")
    assert "第 1 个样本（共 3 个）" in batch and "输出层用 softmax、代价用交叉熵时" in batch
    # Inside a Chinese trace the stories are Chinese without being asked.
    page = traces["seed004"].to_html(lang="zh", weights=["w5"])
    assert "追踪一个权重" in page and "One weight" not in page


def test_the_worksheet_and_the_checker_speak_chinese(traces) -> None:  # type: ignore[no-untyped-def]
    trace = traces["seed004"]
    sheet = worksheet(trace, ["delta2", "grad_W2", "W2_new"], lang="zh")
    for kind in ("to_text", "to_markdown", "to_html"):
        text = getattr(sheet, kind)()
        assert english_left(text) == [], (kind, english_left(text))
        assert "练习（1）：填出 ?" in text and "练习（3）：填出 ?" in text
    assert '<html lang="zh">' in sheet.to_html()
    assert "Worksheet" in sheet.to_text(lang="en")  # one sheet, either language
    # The slips: δ² without σ'(z), W² stepped the wrong way; the names are Chinese in the
    # report and English in Grade.slip (a stable name for programs).
    lt = trace.layer(2)
    wrong_sign = lt.W + trace.learning_rate * lt.grad_W
    grades = sheet.check({"delta2": np.asarray(lt.grad_a), "W2_new": wrong_sign})
    assert [g.slip for g in grades] == [
        "σ'(z) left out",
        None,
        "learning-rate step with the wrong sign (w + α∂C/∂w)",
    ]
    report = sheet.report(grades)
    assert report.splitlines()[0] == "3 题中答对 0 题"
    assert "可能的错误：漏掉了 σ'(z)" in report and "学习率那一步的符号反了" in report
    assert "没有作答" in report and english_left(report) == []
    assert "likely slip: σ'(z) left out" in sheet.report(grades, lang="en")
    # The sheet keeps the trace's language by default.
    trace_zh = backprop(*seed004_example()[:3], loss=seed004_example()[3], learning_rate=0.5)
    trace_zh.lang = "zh"
    assert worksheet(trace_zh).to_text().startswith("练习 —— ")


def test_the_diagram_speaks_chinese(traces) -> None:  # type: ignore[no-untyped-def]
    for trace in traces.values():
        for show in ("values", "gradients"):
            svg = diagram(trace, show=show, lang="zh")
            captions = re.findall(
                r'y="34" font-size="17" font-weight="bold" text-anchor="\w+" '
                r'fill="#1b1f24">([^<]+)<',
                svg,
            )
            assert captions[0].startswith("第 0 层（输入层，") and "隐藏层" in captions[1]
            assert captions[-1].startswith(f"第 {trace.L} 层（输出层，")
            assert 'xml:lang="zh"' in svg and "Noto Sans CJK SC" in svg
            assert english_left(svg.replace("<svg", "<div").replace("</svg>", "</div>")) == []
    assert "layer 1 (hidden, 2)" in diagram(traces["seed004"])  # English by default


def test_the_trace_notes_are_chinese_when_rendered(traces) -> None:  # type: ignore[no-untyped-def]
    trace = traces["softmax"]
    assert any(str(n).startswith("The cost is computed") for n in trace.notes)  # data: English
    zh = trace.to_text(lang="zh")
    assert "代价由 z² 按数值稳定的 softmax + sparse_categorical_crossentropy 合并公式算出" in zh
    assert trace.to_dict(lang="zh")["notes"][0].startswith("代价由 z^2")
    assert trace.to_dict()["notes"][0].startswith("The cost is computed from z^2")


def test_no_message_of_a_chinese_document_went_untranslated(traces) -> None:  # type: ignore[no-untyped-def]
    """Every t() looked up while the Chinese documents were built found its translation."""
    for trace in traces.values():
        weights = [(1, 1, 1), (trace.L, 1, 1)]
        trace.to_text(lang="zh", weights=weights)
        trace.to_markdown(lang="zh", weights=weights)
        trace.to_html(lang="zh", weights=weights)
        trace.to_dict(lang="zh", weights=weights)
        sheet = worksheet(trace, lang="zh")
        sheet.to_html()
        sheet.report(sheet.check({}))
        diagram(trace, show="gradients", lang="zh")
    assert {m for lang, m in i18n.untranslated() if lang == "zh"} == set()
