"""The playground in a real browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from typing import Any

import numpy as np
import pytest

from glassnet.explain import backprop
from glassnet.playground.session import Config, Session

TIMEOUT_MS = 30_000


def by_id(page: Any, name: str) -> Any:
    return page.get_by_test_id(name)


def open_page(page: Any, url: str, fragment: str = "") -> None:
    page.goto(f"{url}/{fragment}")
    page.wait_for_function(
        "window.__playground && window.__playground.updates > 0", timeout=TIMEOUT_MS
    )


def debug_sessions(url: str) -> list[Any]:
    with urllib.request.urlopen(f"{url}/debug/sessions", timeout=10) as response:
        return json.loads(response.read())["sessions"]  # type: ignore[no-any-return]


def test_page_loads_without_console_errors_and_shows_the_controls(
    page: Any, server_url: str
) -> None:
    open_page(page, server_url)
    for name in (
        "dataset",
        "add-layer",
        "remove-layer",
        "units-1",
        "activation-1",
        "units-2",
        "learning-rate",
        "batch-size",
        "play",
        "pause",
        "step",
        "reset",
        "step-count",
        "loss",
        "accuracy",
        "boundary",
        "weight-1-1-1",
        "weight-3-2-8",
        "weight-story",
        "findings",
    ):
        assert by_id(page, name).count() == 1, name
    assert by_id(page, "step-count").inner_text() == "0"
    # The configuration is in the URL, and a shared link reopens the same network.
    assert page.url.endswith(
        "#dataset=spirals&n=400&noise=0.1&seed=0&layers=8:tanh,8:tanh&lr=0.03&bs=32&opt=adam"
    )
    by_id(page, "add-layer").click()
    page.wait_for_function("location.hash.includes('layers=8:tanh,8:tanh,4:tanh')")
    by_id(page, "units-3").fill("5")
    by_id(page, "units-3").dispatch_event("change")
    page.wait_for_function("location.hash.includes('layers=8:tanh,8:tanh,5:tanh')")
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    other.wait_for_function("window.__playground && window.__playground.updates > 0")
    assert other.get_by_test_id("units-3").input_value() == "5"
    assert other.get_by_test_id("weight-4-2-5").count() == 1
    other.close()
    assert page.console_errors == []


def test_step_advances_the_count_by_exactly_one(page: Any, server_url: str) -> None:
    open_page(page, server_url)
    for expected in ("1", "2"):
        before = page.evaluate("window.__playground.updates")
        by_id(page, "step").click()
        page.wait_for_function(
            f"document.querySelector('[data-testid=step-count]').textContent === '{expected}'",
            timeout=TIMEOUT_MS,
        )
        page.wait_for_timeout(500)  # nothing else may arrive: a Step is one batch
        assert by_id(page, "step-count").inner_text() == expected
        assert page.evaluate("window.__playground.updates") == before + 1
    assert page.console_errors == []


def displayed(page: Any, field: str) -> str:
    return str(by_id(page, "weight-story").locator(f"[data-field={field}]").inner_text())


def test_weight_story_equals_backprop_on_the_same_weights_and_batch(
    page: Any, server_url: str
) -> None:
    open_page(page, server_url, "#dataset=moons&layers=5:tanh,3:relu&lr=0.2&bs=8&opt=sgd")
    by_id(page, "step").click()
    page.wait_for_function("window.__playground.state.step === 1", timeout=TIMEOUT_MS)
    by_id(page, "weight-2-3-4").dispatch_event("click")
    page.wait_for_function("window.__playground.story !== null", timeout=TIMEOUT_MS)
    by_id(page, "weight-story").locator("[data-field=grad]").wait_for(timeout=TIMEOUT_MS)

    # The reference: the step's batch and the weights before it, read back from the server,
    # put into a fresh model of the same shape and traced independently by explain.backprop.
    [mine] = [s for s in debug_sessions(server_url) if s and s["config"]["dataset"] == "moons"]
    weights = [np.asarray(w, dtype=np.float32) for w in mine["weights_before"]]
    x = np.asarray(mine["x"], dtype=np.float32)
    y = np.asarray(mine["y"], dtype=np.int64)
    assert x.shape == (8, 2)
    model = Session(Config(dataset="moons", layers=((5, "tanh"), (3, "relu")))).model
    model.set_weights(weights)
    trace = backprop(model, x, y, learning_rate=0.2)
    grad = trace.layer(2).grad_W[2, 3]
    shown = float(displayed(page, "grad"))
    assert shown == pytest.approx(float(f"{grad:.6g}"), rel=1e-12, abs=1e-300)
    assert float(displayed(page, "before")) == pytest.approx(float(f"{weights[2][2, 3]:.6g}"))
    new_w = trace.layer(2).W_updated[2, 3]
    assert float(displayed(page, "sgd_after")) == pytest.approx(new_w, rel=1e-5)
    assert float(displayed(page, "after")) == pytest.approx(new_w, rel=1e-5)
    # Sample 1's paths: the sum shown equals explain's per-sample sum, and each path's product
    # (4 significant digits) adds up to it.
    sample = trace.path(2, 3, 4).samples[0]
    assert float(displayed(page, "sample_total")) == pytest.approx(float(f"{sample.total:.6g}"))
    text = by_id(page, "weight-story").inner_text()
    products = [float(v) for v in re.findall(r"^    = (-?[\d.e+-]+)$", text, flags=re.M)]
    assert len(products) == len(sample.terms) == 2  # one path per output neuron
    for shown_product, term in zip(products, sample.terms):
        assert shown_product == pytest.approx(float(f"{term.value:.4g}"))
    assert page.console_errors == []


def test_clicking_a_neuron_shows_z_a_sigma_prime_and_delta(page: Any, server_url: str) -> None:
    open_page(page, server_url)
    by_id(page, "step").click()
    page.wait_for_function("window.__playground.state.step === 1", timeout=TIMEOUT_MS)
    by_id(page, "neuron-1-2").dispatch_event("click")
    box = by_id(page, "neuron-story")
    box.wait_for(state="visible", timeout=TIMEOUT_MS)
    text = box.inner_text()
    for part in ("z = ", "a = ", "σ'(z) = ", "δ = "):
        assert part in text
    assert by_id(page, "neuron-map").is_visible()  # its output over the plane


def test_export_shows_the_python_code_and_offers_the_model_file(page: Any, server_url: str) -> None:
    open_page(page, server_url, "#dataset=circles&layers=5:relu&lr=0.1&bs=16&opt=sgd")
    by_id(page, "export").click()
    code = by_id(page, "python-code")
    code.wait_for(state="visible", timeout=TIMEOUT_MS)
    text = code.input_value()
    assert "load('circles', n=400, noise=0.1, seed=0)" in text
    assert "Dense(5, activation='relu')" in text and "SGD(learning_rate=0.1)" in text
    with page.expect_download() as download:
        by_id(page, "download-model").click()
    path = download.value.path()
    import glassnet

    model = glassnet.load_model(path)
    assert [w.shape for w in model.get_weights()] == [(5, 2), (5,), (2, 5), (2,)]
    assert page.console_errors == []


@pytest.mark.parametrize(
    ("how", "field"),
    [
        ("units", "units of layer 1"),
        ("layers", "message must be at most"),
        ("rate", "learning_rate"),
    ],
)
def test_invalid_values_are_refused_visibly_and_the_server_keeps_serving(
    page: Any, server_url: str, how: str, field: str
) -> None:
    open_page(page, server_url)
    if how == "units":
        by_id(page, "units-1").fill("-3")
        by_id(page, "units-1").dispatch_event("change")
    elif how == "rate":
        by_id(page, "learning-rate").fill("abc")
        by_id(page, "learning-rate").dispatch_event("change")
    else:
        layers = ",".join(["8:tanh"] * 10_000)
        page.goto(f"{server_url}/#dataset=xor&layers={layers}")
    error = by_id(page, "error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert error.inner_text().startswith(field), error.inner_text()
    # The same tab still trains (for the 10,000 layers the session runs the defaults).
    by_id(page, "step").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=step-count]').textContent === '1'",
        timeout=TIMEOUT_MS,
    )


def test_a_forged_websocket_message_gets_an_error_reply(server_url: str) -> None:
    from websockets.sync.client import connect

    uri = server_url.replace("http", "ws") + "/ws"
    with connect(uri) as ws:
        forged = [
            json.dumps({"type": "exec", "code": "import os; os.system('true')"}),
            json.dumps(
                {
                    "type": "config",
                    "config": {"layers": [{"units": 8, "activation": "tanh"}] * 10_000},
                }
            ),
            json.dumps({"type": "config", "config": {"learning_rate": "abc"}}),
            "{not json",
            b"\x00\x01binary",
        ]
        for message in forged:
            ws.send(message)
            reply = json.loads(ws.recv(timeout=30))
            assert reply["type"] == "error" and "received" in reply["message"], reply
        ws.send(json.dumps({"type": "step"}))
        kinds = []
        while "state" not in kinds:
            kinds.append(json.loads(ws.recv(timeout=30))["type"])
    with urllib.request.urlopen(server_url + "/", timeout=10) as response:
        assert response.status == 200


def test_spirals_with_two_tanh_layers_of_8_reaches_loss_below_01(
    page: Any, server_url: str
) -> None:
    open_page(page, server_url)
    by_id(page, "dataset").select_option("spirals")
    for l in (1, 2):
        by_id(page, f"units-{l}").fill("8")
        by_id(page, f"activation-{l}").select_option("tanh")
    by_id(page, "reset").click()
    start = time.monotonic()
    by_id(page, "play").click()
    page.wait_for_function(
        "Number(document.querySelector('[data-testid=loss]').textContent) < 0.1",
        timeout=60_000,
    )
    seconds = time.monotonic() - start
    page.wait_for_timeout(2000)
    fps = page.evaluate("window.__playground.fps")
    by_id(page, "pause").click()
    print(f"\nspirals: loss < 0.1 after {seconds:.1f} s; {fps:.1f} screen updates/s")
    assert page.console_errors == []


def test_a_csv_upload_trains_on_the_users_data_and_a_bad_one_is_refused(
    page: Any, server_url: str, tmp_path: Any
) -> None:
    from glassnet.datasets import load

    (x, y), _ = load("circles", n=200, noise=0.05, seed=1)
    good = tmp_path / "mine.csv"
    rows = [f"{a:.4f},{b:.4f},{'in' if k else 'out'}" for (a, b), k in zip(x, y)]
    good.write_text("x1,x2,where\n" + "\n".join(rows) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,where\n1,2,in\n3,four,out\n5,6,in\n7,8,out\n")
    open_page(page, server_url)
    page.locator("#csv-box summary").click()
    by_id(page, "csv-file").set_input_files(str(bad))
    by_id(page, "csv-upload").click()
    error = by_id(page, "error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert error.inner_text().startswith("csv row 3, column 'x2'"), error.inner_text()
    by_id(page, "csv-file").set_input_files(str(good))
    by_id(page, "csv-upload").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=csv-info]').textContent.startsWith('160 rows')",
        timeout=TIMEOUT_MS,
    )
    assert by_id(page, "error").is_hidden()
    assert by_id(page, "dataset").input_value() == "csv"
    by_id(page, "step").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=step-count]').textContent === '1'",
        timeout=TIMEOUT_MS,
    )
    assert page.console_errors == []


def test_the_page_speaks_chinese_and_the_link_keeps_the_language(
    page: Any, server_url: str
) -> None:
    open_page(page, server_url)
    assert by_id(page, "play").inner_text() == "▶ Play"
    by_id(page, "language").select_option("zh")
    assert by_id(page, "play").inner_text() == "▶ 开始"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.wait_for_function("location.hash.endsWith('&lang=zh')")
    other = page.context.new_page()
    other.goto(page.url)
    other.wait_for_function("window.__playground && window.__playground.updates > 0")
    assert other.get_by_test_id("step").inner_text() == "单步"
    other.get_by_test_id("language").select_option("en")
    assert other.get_by_test_id("step").inner_text() == "Step"
    other.close()
    assert page.console_errors == []


def test_mnist_shows_first_layer_weights_and_misclassified_images(
    page: Any, server_url: str
) -> None:
    open_page(page, server_url, "#dataset=mnist-5k&layers=16:relu&lr=0.003&bs=64&opt=adam")
    by_id(page, "step").click()
    page.wait_for_function("window.__playground.state.step === 1", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=first-layer-weights] canvas').length === 16",
        timeout=TIMEOUT_MS,
    )
    captions = by_id(page, "misclassified").locator("figcaption").all_inner_texts()
    assert 1 <= len(captions) <= 8
    assert all(re.fullmatch(r"\d → \d", c) for c in captions), captions
    assert page.locator("[data-testid^=weight-1-]").count() == 0  # 784 × 16 edges: not drawn
    assert by_id(page, "weight-2-10-16").count() == 1
    by_id(page, "weight-2-10-16").dispatch_event("click")
    by_id(page, "weight-story").locator("[data-field=grad]").wait_for(timeout=TIMEOUT_MS)
    assert page.console_errors == []


def test_every_neuron_has_its_live_output_map(page: Any, server_url: str) -> None:
    open_page(page, server_url, "#dataset=spirals&layers=8:tanh,5:relu")
    maps = page.locator("[data-testid^=neuron-map-]")
    assert maps.count() == 8 + 5  # one small canvas per hidden neuron
    assert by_id(page, "neuron-map-2-5").count() == 1

    def pixels(name: str) -> list[int]:
        return page.evaluate(  # type: ignore[no-any-return]
            "(id) => { const c = document.querySelector(`[data-testid=${id}]`);"
            " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }",
            name,
        )

    # The canvas shows the bytes of the update: white at 127.5, blue above, orange below.
    state = page.evaluate("window.__playground.state")
    first = state["maps"][0]
    size = first["size"]
    values = np.frombuffer(base64.b64decode(first["values"]), dtype=np.uint8)[: size * size]
    shown = np.array(pixels("neuron-map-1-1"), dtype=float).reshape(-1, 4)
    t = (values.astype(float) - 127.5) / 127.5
    blue, orange = np.array([31, 111, 209]), np.array([224, 118, 27])
    colour = np.where(t[:, None] < 0, orange, blue)
    expected = 255 + (colour - 255) * np.abs(t)[:, None]
    assert np.abs(shown[:, :3] - expected).max() <= 1.0
    # Live: while playing, every neuron's picture changes.
    before = {f"neuron-map-{l}-{j}": pixels(f"neuron-map-{l}-{j}") for l, j in [(1, 3), (2, 2)]}
    drawn = page.evaluate("window.__playground.maps")
    by_id(page, "play").click()
    page.wait_for_function(f"window.__playground.maps > {drawn + 5}", timeout=TIMEOUT_MS)
    by_id(page, "pause").click()
    for name, old in before.items():
        assert pixels(name) != old, name
    # Clicking one tells that neuron's story.
    by_id(page, "neuron-map-2-2").dispatch_event("click")
    story = by_id(page, "neuron-story")
    story.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert story.inner_text().startswith("neuron 2 of layer 2 (relu)")
    assert page.console_errors == []
