"""The doctor's findings in the playground: fit's rules on the session's own telemetry."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from glassnet.diagnostics.rules import RULES
from glassnet.playground import doctor
from glassnet.playground.session import Config, Session

TIMEOUT_MS = 60_000


def test_dead_relus_are_found_in_their_layer() -> None:
    session = Session(Config(dataset="spirals", layers=((8, "relu"), (8, "tanh"))))
    session.model.parameters()[1].data[:6] = -100.0  # 6 of the 8 ReLUs of layer 1 never fire
    for _ in range(40):
        session.step()
    found = {f["rule"]: f for f in session.findings(force=True)}
    dead = found["dead_relu"]
    assert dead["title"] == RULES["dead_relu"].title
    assert dead["layer"] == "layer 1 (dense)"
    assert dead["evidence"].startswith("75% of 8 ReLU units of dense are dead")  # 6 / 8
    assert "LeakyReLU" in dead["advice"]
    assert dead["step"] == 40


def test_a_learning_rate_of_10_is_found_too_high() -> None:
    session = Session(Config(dataset="spirals", optimizer="sgd", learning_rate=10.0))
    for _ in range(60):
        session.step()
    found = session.findings(force=True)
    assert found[0]["rule"] == "lr_too_high"
    assert "Lower the learning rate (now 10 (SGD))" in found[0]["advice"]


def test_a_healthy_run_has_no_finding_and_each_is_reported_once() -> None:
    session = Session(Config(dataset="moons"))
    for _ in range(300):
        session.step()
    assert session.findings(force=True) == []
    broken = Session(Config(dataset="spirals", optimizer="sgd", learning_rate=10.0))
    for _ in range(60):
        broken.step()
    first = broken.findings(force=True)
    for _ in range(60):
        broken.step()
    again = broken.findings(force=True)
    assert [f["rule"] for f in again].count("lr_too_high") == 1
    assert again[: len(first)] == first  # new ones are added after, none repeated


def test_the_rules_run_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = doctor.evaluate
    monkeypatch.setattr(doctor, "evaluate", lambda *a: calls.append(1) or real(*a))
    clock = [1000.0]  # a clock the test moves: the machine's speed must not decide the count
    monkeypatch.setattr(doctor, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    session = Session(Config(dataset="xor"))
    for _ in range(20):
        session.step()
        session.state()
        clock[0] += 0.01
    assert len(calls) == 1  # 20 updates within 0.2 s: the rules ran once
    clock[0] += doctor.SECONDS
    session.step()
    session.state()
    assert len(calls) == 2  # a second later they run again


def test_the_records_keep_a_bounded_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "KEEP_STEPS", 50)
    monkeypatch.setattr(doctor, "KEEP_SAMPLES", 8)
    monkeypatch.setattr(doctor, "KEEP_EPOCHS", 5)
    session = Session(Config(dataset="xor", n=100))
    for _ in range(600):
        session.step()
    tel, history = session.watch.telemetry, session.watch.history
    assert 50 <= len(tel.step_loss) <= 100
    assert len(tel.step_loss) == len(tel.step_epoch) == len(tel.step_learning_rate)
    sizes = {len(v) for stats in tel.layers.values() for v in stats.values()}
    assert sizes == {len(tel.sample_steps)} and len(tel.sample_steps) <= 16
    assert len(history.epoch) <= 10 and len(history.history["loss"]) == len(history.epoch)
    session.findings(force=True)  # the rules still read the trimmed records


def test_the_page_shows_a_divergence_as_it_appears(page: Any, server_url: str) -> None:
    page.goto(f"{server_url}/#dataset=spirals&layers=8:tanh,8:tanh&lr=10&opt=sgd")
    page.wait_for_function("window.__playground && window.__playground.updates > 0")
    assert page.get_by_test_id("findings").inner_text() == "none so far"
    page.get_by_test_id("play").click()
    item = page.get_by_test_id("finding-lr_too_high")
    item.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.get_by_test_id("pause").click()
    text = item.inner_text()
    assert text.startswith("learning rate too high")
    evidence = ("The training loss blew up", "The loss became", "Each step changes the weights")
    assert any(e in text for e in evidence), text
    assert "Lower the learning rate (now 10 (SGD))" in text
    assert page.console_errors == []
