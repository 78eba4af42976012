"""The server speaks the session's language: its refusals and what its session builds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from glassnet.errors import InvalidArgumentError
from glassnet.explain.i18n import t, using
from glassnet.playground.session import parse_message

PO = Path(__file__).resolve().parents[2] / "src/glassnet/locale/zh/LC_MESSAGES/glassnet.po"
TIMEOUT_MS = 30_000


def playground_entries() -> list[str]:
    """The msgids of the catalogue's playground block."""
    text = PO.read_text(encoding="utf-8")
    block = text[text.index("# --- playground ---") :]
    block = block[: block.find("\n# --- ", 1)] if "\n# --- " in block[1:] else block
    return [json.loads(m) for m in re.findall(r'^msgid (".*")$', block, flags=re.M)]


def test_every_playground_message_has_chinese_with_the_same_placeholders() -> None:
    entries = playground_entries()
    assert len(entries) >= 40
    with using("zh"):
        for english in entries:
            chinese = t(english)
            assert chinese != english, english
            assert set(re.findall(r"{\w+}", chinese)) == set(re.findall(r"{\w+}", english))


def test_a_refusal_is_in_chinese_under_zh_and_english_otherwise() -> None:
    message = json.dumps({"type": "config", "config": {"learning_rate": "abc"}})
    with using("zh"), pytest.raises(InvalidArgumentError) as zh:
        parse_message(message)
    assert str(zh.value) == "learning_rate 必须是大于 0 且不大于 10 的有限数，收到的是 'abc'"
    with pytest.raises(InvalidArgumentError) as en:
        parse_message(message)
    assert str(en.value) == ("learning_rate must be a finite number > 0 and <= 10, received 'abc'")
    units = json.dumps(
        {"type": "config", "config": {"layers": [{"units": -3, "activation": "tanh"}]}}
    )
    with using("zh"), pytest.raises(InvalidArgumentError) as zh:
        parse_message(units)
    assert str(zh.value) == "第 1 层的神经元数 必须是1 到 64 之间的整数，收到的是 -3"


def receive_error(ws: Any) -> str:
    while True:
        m = json.loads(ws.recv(timeout=30))
        if m["type"] == "error":
            return str(m["message"])


def test_the_socket_answers_in_its_language(server_url: str) -> None:
    from websockets.sync.client import connect

    uri = server_url.replace("http", "ws") + "/ws"
    with connect(uri + "?lang=zh") as ws:
        ws.send(json.dumps({"type": "exec", "code": "1"}))
        assert receive_error(ws).startswith("type 必须是以下之一：config, play")
        # Built by the session in a worker thread: in the session's language too.
        ws.send(json.dumps({"type": "story", "l": 1, "j": 1, "k": 1}))
        assert receive_error(ws).startswith("反向传播过程：还没有训练过一步")
        ws.send(json.dumps({"type": "language", "lang": "en"}))
        ws.send(json.dumps({"type": "story", "l": 1, "j": 1, "k": 1}))
        assert receive_error(ws).startswith("story: no step has been taken yet")
        ws.send(json.dumps({"type": "language", "lang": "fr"}))
        assert receive_error(ws) == "lang must be one of en, zh, received 'fr'"
        ws.send(json.dumps({"type": "language", "lang": "zh"}))
        ws.send(json.dumps({"type": "config", "config": {"dropout": 2}}))
        assert receive_error(ws).startswith("dropout 必须是不小于 0 且小于 1 的有限数")
        layers = [{"units": 4, "activation": "tanh", "dropout": 1}]
        ws.send(json.dumps({"type": "config", "config": {"layers": layers}}))
        assert receive_error(ws).startswith("第 1 层的 dropout 必须是不小于 0 且小于 1 的有限数")
    with connect(uri + "?lang=xx") as ws:  # an unknown language: English
        ws.send(json.dumps({"type": "exec"}))
        assert receive_error(ws).startswith("type must be one of")


def test_the_page_shows_the_servers_refusal_in_chinese(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/#dataset=xor&lang=zh")
    page.wait_for_function("window.__playground && window.__playground.updates > 0")
    page.get_by_test_id("learning-rate").fill("abc")
    page.get_by_test_id("learning-rate").dispatch_event("change")
    error = page.get_by_test_id("error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert error.inner_text() == "learning_rate 必须是大于 0 且不大于 10 的有限数，收到的是 'abc'"
    # Switched to English, the next refusal is in English.
    page.get_by_test_id("language").select_option("en")
    page.get_by_test_id("batch-size").fill("0")
    page.get_by_test_id("batch-size").dispatch_event("change")
    page.wait_for_function(
        "document.querySelector('[data-testid=error]').textContent.startsWith('batch_size must')",
        timeout=TIMEOUT_MS,
    )
    assert page.console_errors == []


def test_the_doctors_titles_follow_the_language() -> None:
    from glassnet.playground.session import Config, Session

    session = Session(Config(dataset="spirals", optimizer="sgd", learning_rate=10.0))
    for _ in range(60):
        session.step()
    with using("zh"):
        assert session.findings(force=True)[0]["title"] == "学习率过高"
    assert session.findings()[0]["title"] == "learning rate too high"


def test_a_sessions_findings_speak_its_language() -> None:
    """The doctor's evidence and advice come out in the session's language (the rules' own
    catalogue entries); the same run in English says the same numbers."""
    from glassnet.i18n import using
    from glassnet.playground.session import Config, Session

    found = {}
    for lang in ("en", "zh"):
        with using(lang):
            session = Session(Config(dataset="xor", learning_rate=10.0))
            for _ in range(40):
                session.step()
            found[lang] = session.findings(force=True)[0]
    assert found["en"]["rule"] == found["zh"]["rule"] == "lr_too_high"
    assert found["zh"]["title"] == "学习率过高"
    assert "训练损失" in found["zh"]["evidence"] and "学习率" in found["zh"]["advice"]
    assert "training loss" in found["en"]["evidence"]
