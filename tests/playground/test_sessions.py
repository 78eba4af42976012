"""Many sessions side by side, and a session's end, through real WebSocket clients."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import numpy as np
import pytest

pytest.importorskip("websockets", reason="the tests talk to the server with websockets")


def session_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/debug/sessions", timeout=10) as response:
        return int(json.loads(response.read())["count"])


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_closed_socket_ends_its_session(server_url: str) -> None:
    from websockets.sync.client import connect

    before = session_count(server_url)
    with connect(server_url.replace("http", "ws") + "/ws") as ws:
        ws.send(json.dumps({"type": "play"}))
        wait_for(lambda: session_count(server_url) == before + 1)
        assert json.loads(ws.recv(timeout=30))["type"] in ("data", "state")
    wait_for(lambda: session_count(server_url) == before)


def run_client(url: str, index: int, seconds: float, out: dict[int, Any]) -> None:
    """One tab: its own network (2 + index % 7 units), train for ``seconds``, keep replies."""
    from websockets.sync.client import connect

    units = 2 + index % 7
    config = {"dataset": "moons", "seed": index, "layers": [{"units": units, "activation": "tanh"}]}
    states, errors, data = [], [], None
    with connect(url.replace("http", "ws") + "/ws") as ws:
        ws.send(json.dumps({"type": "config", "config": config}))
        ws.send(json.dumps({"type": "play"}))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = json.loads(ws.recv(timeout=30))
            if m["type"] == "state":
                states.append({k: m[k] for k in ("step", "sizes", "weights", "loss")})
            elif m["type"] == "error":
                errors.append(m["message"])
            elif m["type"] == "data":
                data = m["config"]
        ws.send(json.dumps({"type": "pause"}))
    out[index] = {"units": units, "states": states, "errors": errors, "config": data}


SECONDS = 60  # the figure: 20 sessions training for 60 s, in the default run
MEMORY_BOUND_MB = 300  # twenty small models, their data and the doctor's bounded records


def test_twenty_sessions_train_side_by_side_for_60_s(server_url: str) -> None:
    from glassnet.playground.session import Config, Session, get_weights

    seconds = SECONDS
    before_mb = rss_mb()
    results: dict[int, Any] = {}
    threads = [
        threading.Thread(target=run_client, args=(server_url, i, seconds, results))
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    assert sorted(results) == list(range(20))
    for i, r in results.items():
        assert r["errors"] == [], (i, r["errors"])
        assert r["config"]["seed"] == i and r["config"]["layers"][0]["units"] == r["units"]
        steps = [s["step"] for s in r["states"]]
        assert len(steps) >= 2 and steps == sorted(steps) and steps[-1] > steps[0]
        # Its own network: the shapes of its own configuration in every update.
        for s in r["states"]:
            assert s["sizes"] == [2, r["units"], 2]
            assert len(s["weights"][0]) == r["units"]
        # Its own numbers: the first update (step 0) holds the initial weights of its own
        # configuration, built here independently.
        assert r["states"][0]["step"] == 0
        config = Config(dataset="moons", seed=i, layers=((r["units"], "tanh"),))
        own = get_weights(Session(config).model)[0::2]
        for shown, mine in zip(r["states"][0]["weights"], own):
            np.testing.assert_allclose(shown, mine, atol=5e-5)  # rounded to 4 decimals
    # Twenty different initialisations: no two sessions showed the same first weights.
    firsts = {json.dumps(r["states"][0]["weights"]) for r in results.values()}
    assert len(firsts) == 20
    wait_for(lambda: session_count(server_url) == 0)
    grown = rss_mb() - before_mb
    rates = [len(r["states"]) / seconds for r in results.values()]
    print(
        f"\n20 sessions for {seconds} s: {min(rates):.1f}-{max(rates):.1f} updates/s per session, "
        f"{sum(len(r['states']) for r in results.values())} updates in all; "
        f"process memory grew {grown:.0f} MB"
    )
    assert grown < MEMORY_BOUND_MB  # a leak would grow without bound


def test_speed_one_takes_exactly_one_step_per_update(server_url: str) -> None:
    from websockets.sync.client import connect

    with connect(server_url.replace("http", "ws") + "/ws") as ws:
        ws.send(json.dumps({"type": "config", "config": {"dataset": "xor", "speed": 1}}))
        ws.send(json.dumps({"type": "play"}))
        steps: list[int] = []
        while len(steps) < 12:
            m = json.loads(ws.recv(timeout=30))
            if m["type"] == "state":
                steps.append(m["step"])
        ws.send(json.dumps({"type": "pause"}))
    playing = steps[1:]  # the first is the state right after the config (step 0)
    assert steps[0] == 0
    assert [b - a for a, b in zip(playing, playing[1:])] == [1] * (len(playing) - 1)


def test_an_idle_session_is_closed(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from glassnet.playground import server

    monkeypatch.setattr(server, "IDLE_SECONDS", 1.0)
    before = session_count(server_url)
    with connect(server_url.replace("http", "ws") + "/ws") as ws:
        wait_for(lambda: session_count(server_url) == before + 1)
        with pytest.raises(ConnectionClosed):  # nothing sent: the server ends it
            while True:
                ws.recv(timeout=30)
    wait_for(lambda: session_count(server_url) == before)


def test_a_socket_from_another_sites_page_is_refused(server_url: str) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    uri = server_url.replace("http", "ws") + "/ws"
    with pytest.raises(InvalidStatus):
        connect(uri, origin="http://evil.example")  # type: ignore[arg-type]
    host = server_url.removeprefix("http://")
    with connect(uri, origin=f"http://{host}") as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "step"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "data"
