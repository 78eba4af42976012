"""One browser tab's training session, and the validation of every message the page sends.

Nothing the page sends is ever evaluated: a message is JSON, checked field by field against
fixed limits (``LIMITS``), and turned into a ``Config`` or a command; anything else is refused
with a one-sentence ``InvalidArgumentError`` that the server sends back to the page.

A ``Session`` holds a glassnet ``Sequential`` (hidden Dense layers, then a softmax output),
its data and optimiser, and what the last step saw: the weights before it and its mini-batch,
so that ``story`` can ask ``glassnet.explain.backprop`` for the same numbers the step used.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _rng
from ..datasets import load
from ..datasets._split import stratified_split
from ..errors import InvalidArgumentError
from ..explain import backprop
from ..explain.i18n import LANGS, t
from ..layers import Dense, Dropout
from ..optim import optimizers, schedules
from ..training import Sequential
from ..training.fused import forward_arrays
from .doctor import Watch

__all__ = [
    "LIMITS",
    "Config",
    "Session",
    "Upload",
    "parse_csv",
    "parse_message",
    "python_code",
    "validate_config",
]

LIMITS = {
    "message_bytes": 262144,
    "csv_rows": 2000,
    "csv_features": 16,
    "csv_classes": 10,
    "hidden_layers": 8,
    "units": 64,
    "learning_rate": 10.0,
    "batch_size": 512,
    "n": 2000,
    "noise": 1.0,
    "seed": 2**31 - 1,
    "sessions": 32,
    "grid": 50,
    "speed": 100,
    "dropout": 1.0,  # a hidden layer's dropout rate: 0 <= rate < 1
    "l2": 1.0,
    "decay_steps": 100_000,
}
GENERATED = ("xor", "moons", "circles", "spirals", "blobs")
DATASETS = (*GENERATED, "iris", "digits", "mnist-5k", "csv")
# Image sets: their pixels' shape, for the weights-as-images and misclassified views.
IMAGES = {"digits": (8, 8), "mnist-5k": (28, 28)}
# Wider inputs are drawn as one block, without their edges (784 × units lines is no picture).
DRAWN_INPUTS = 64
MAPS_PER_SECOND = 20  # every neuron's output map goes out at most this often
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "leaky_relu", "elu")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
# The page's loss → (glassnet's loss, the output layer's activation): cross-entropy pairs with
# softmax (δ^L = a^L − y); the quadratic cost of seed 000 with sigmoid outputs and one-hot
# targets, whose σ'(z^L) factor is the slow learning the seeds warn about.
LOSSES = {
    "cross_entropy": ("sparse_categorical_crossentropy", "softmax"),
    "mse": ("mean_squared_error", "sigmoid"),
}
SCHEDULES = ("constant", "step", "exponential", "cosine")
DECAY_FACTOR = 0.5  # step and exponential decay halve the rate every decay_steps steps
COMMANDS = (
    "config",
    "play",
    "pause",
    "step",
    "reset",
    "story",
    "neuron",
    "export",
    "csv",
    "language",
)
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Config:
    """What the page chose: data, hidden layers (units, activation, dropout rate after the
    layer), loss, optimiser, its rate and schedule, and L2. A layer given as (units,
    activation) has no dropout."""

    dataset: str = "spirals"
    n: int = 400
    noise: float = 0.1
    seed: int = 0
    layers: tuple[tuple[int, str, float], ...] = ((8, "tanh", 0.0), (8, "tanh", 0.0))
    learning_rate: float = 0.03
    batch_size: int = 32
    optimizer: str = "adam"
    speed: int = 0  # steps per screen update while playing; 0: as many as fit in a frame
    loss: str = "cross_entropy"
    lr_schedule: str = "constant"
    decay_steps: int = 1000  # the schedule's period: halve every, or cosine down to 0 over
    l2: float = 0.0  # λ of the penalty λ Σ w² on every Dense layer's weights

    def __post_init__(self) -> None:
        layers = tuple((*layer, 0.0) if len(layer) == 2 else tuple(layer) for layer in self.layers)
        object.__setattr__(self, "layers", layers)

    @property
    def dropout(self) -> tuple[float, ...]:
        """Each hidden layer's dropout rate (0: none)."""
        return tuple(rate for _, _, rate in self.layers)


def _refuse(name: str, value: Any, expected: str) -> InvalidArgumentError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidArgumentError(
        t("{name} must be {expected}, received {shown}").format(
            name=name, expected=expected, shown=shown
        )
    )


def _one_of(choices: tuple[str, ...]) -> str:
    return t("one of {choices}").format(choices=", ".join(choices))


def _int(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse(name, value, t("an integer from {low} to {high}").format(low=low, high=high))
    return value


def _number(data: dict[str, Any], name: str, low: float, high: float, open_low: bool) -> float:
    value = data[name]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = math.isfinite(value) and value <= high and (value > low if open_low else value >= low)
    if not ok:
        expected = (
            t("a finite number > {low} and <= {high}")
            if open_low
            else t("a finite number >= {low} and <= {high}")
        )
        raise _refuse(name, value, expected.format(low=f"{low:g}", high=f"{high:g}"))
    return float(value)


def _choice(data: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = data[name]
    if value not in choices:
        raise _refuse(name, value, _one_of(choices))
    return str(value)


def _rate(value: Any, name: str) -> float:
    """A dropout rate: 0 <= rate < 1 (a rate of 1 would silence every unit)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and 0 <= value < LIMITS["dropout"]):
        expected = t("a finite number >= {low} and < {high}").format(low=0, high=1)
        raise _refuse(name, value, expected)
    return float(value)


def _layers(value: Any, dropout: float = 0.0) -> tuple[tuple[int, str, float], ...]:
    """The hidden layers; ``dropout`` is the rate of those that name none (the single rate
    for every layer that earlier pages sent)."""
    top = LIMITS["hidden_layers"]
    if not isinstance(value, list) or len(value) > top:
        count = len(value) if isinstance(value, list) else value
        raise _refuse("layers", count, t("a list of at most {top} hidden layers").format(top=top))
    out = []
    for i, layer in enumerate(value, 1):
        fields = set(layer) if isinstance(layer, dict) else set()
        if not {"units", "activation"} <= fields <= {"units", "activation", "dropout"}:
            where = t("layer {i}").format(i=i)
            raise _refuse(where, layer, t("an object with units, activation and maybe dropout"))
        units = layer["units"]
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 64:
            expected = t("an integer from {low} to {high}").format(low=1, high=LIMITS["units"])
            raise _refuse(t("units of layer {i}").format(i=i), units, expected)
        activation = _choice(layer, "activation", ACTIVATIONS)
        rate = _rate(layer.get("dropout", dropout), t("dropout of layer {i}").format(i=i))
        out.append((units, activation, rate))
    return tuple(out)


def validate_config(data: Any) -> Config:
    """A ``Config`` from the page's JSON object, or InvalidArgumentError naming the field."""
    if not isinstance(data, dict):
        raise _refuse("config", data, t("an object"))
    fields = set(Config.__dataclass_fields__) | {"dropout"}
    unknown = sorted(set(data) - fields)
    if unknown:
        made = t("made of the fields {fields}").format(fields=", ".join(sorted(fields)))
        raise _refuse("config", unknown[0], made)
    data = dict(data)
    # "dropout": one rate for every hidden layer, as earlier pages sent it
    dropout = _rate(data.pop("dropout"), "dropout") if "dropout" in data else 0.0
    merged = {**Config().__dict__, **data}
    if "layers" in data or dropout:
        default = [{"units": u, "activation": a} for u, a, _ in Config().layers]
        merged["layers"] = _layers(data.get("layers", default), dropout)
    return Config(
        dataset=_choice(merged, "dataset", DATASETS),
        n=_int(merged, "n", 20, int(LIMITS["n"])),
        noise=_number(merged, "noise", 0.0, LIMITS["noise"], open_low=False),
        seed=_int(merged, "seed", 0, int(LIMITS["seed"])),
        layers=merged["layers"],
        learning_rate=_number(merged, "learning_rate", 0.0, LIMITS["learning_rate"], True),
        batch_size=_int(merged, "batch_size", 1, int(LIMITS["batch_size"])),
        optimizer=_choice(merged, "optimizer", OPTIMIZERS),
        speed=_int(merged, "speed", 0, int(LIMITS["speed"])),
        loss=_choice(merged, "loss", tuple(LOSSES)),
        lr_schedule=_choice(merged, "lr_schedule", SCHEDULES),
        decay_steps=_int(merged, "decay_steps", 1, int(LIMITS["decay_steps"])),
        l2=_number(merged, "l2", 0.0, LIMITS["l2"], open_low=False),
    )


def _index(data: dict[str, Any], name: str) -> int:
    if name not in data:
        raise _refuse(name, None, t("a positive integer"))
    return _int(data, name, 1, 10_000)


def parse_message(text: Any) -> dict[str, Any]:
    """Check one WebSocket message; returns {"type": ..., and its checked fields}."""
    if not isinstance(text, str):
        raise _refuse("message", type(text).__name__, t("JSON text"))
    if len(text.encode("utf-8", "replace")) > LIMITS["message_bytes"]:
        raise InvalidArgumentError(
            t(
                "message must be at most {size} bytes (a network has at most {layers} hidden "
                "layers of 1 to {units} units), received {count} characters"
            ).format(
                size=LIMITS["message_bytes"],
                layers=LIMITS["hidden_layers"],
                units=LIMITS["units"],
                count=len(text),
            )
        )
    try:
        data = json.loads(text, parse_constant=lambda c: c)
    except ValueError:
        raise _refuse("message", text, t("a JSON object")) from None
    if not isinstance(data, dict):
        raise _refuse("message", data, t("a JSON object"))
    kind = data.get("type")
    if kind not in COMMANDS:
        raise _refuse("type", kind, _one_of(COMMANDS))
    allowed = {
        "config": {"type", "config"},
        "story": {"type", "l", "j", "k"},
        "neuron": {"type", "l", "j"},
        "csv": {"type", "text", "label"},
        "language": {"type", "lang"},
    }.get(kind, {"type"})
    extra = sorted(set(data) - allowed)
    if extra:
        where = t("field of a {kind} message").format(kind=kind)
        raise _refuse(where, extra[0], _one_of(tuple(allowed)))
    if kind == "config":
        return {"type": kind, "config": validate_config(data.get("config"))}
    if kind == "story":
        return {"type": kind, **{n: _index(data, n) for n in ("l", "j", "k")}}
    if kind == "neuron":
        return {"type": kind, **{n: _index(data, n) for n in ("l", "j")}}
    if kind == "csv":
        return {"type": kind, "data": parse_csv(data.get("text"), data.get("label"))}
    if kind == "language":
        return {"type": kind, "lang": _choice({"lang": data.get("lang")}, "lang", LANGS)}
    return {"type": kind}


# x, y, x_val, y_val, and the mean and deviation the features were standardised with
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Upload:
    """The user's CSV, checked: features (N, F) float32, labels 0..K-1, the label names."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    columns: tuple[str, ...]
    label: str


def parse_csv(text: Any, label: Any = None) -> Upload:
    """The user's CSV: a header row, numeric feature columns, and a label column (its name,
    or None for the last column) of at most ``csv_classes`` distinct values."""
    if not isinstance(text, str) or not text.strip():
        raise _refuse(t("csv text"), text, t("the text of a CSV file with a header row"))
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if len(rows) < 5:
        raise _refuse(t("csv rows"), len(rows) - 1, t("a header row and at least 4 data rows"))
    header = [h.strip() for h in rows[0]]
    if len(rows) - 1 > LIMITS["csv_rows"]:
        most = t("at most {rows} data rows").format(rows=LIMITS["csv_rows"])
        raise _refuse(t("csv rows"), len(rows) - 1, most)
    if label is None or label == "":
        column = len(header) - 1
    elif isinstance(label, str) and label.strip() in header:
        column = header.index(label.strip())
    else:
        known = t("one of the header's names: {names}").format(names=", ".join(header))
        raise _refuse(t("label column"), label, known)
    features = [i for i in range(len(header)) if i != column]
    if not 1 <= len(features) <= LIMITS["csv_features"]:
        columns = t("2 to {top} columns").format(top=LIMITS["csv_features"] + 1)
        raise _refuse(t("csv columns"), len(header), columns)
    x = np.empty((len(rows) - 1, len(features)), dtype=np.float64)
    labels = []
    for r, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            cells = t("{count} cells like the header").format(count=len(header))
            raise _refuse(t("csv row {r}").format(r=r), len(row), cells)
        labels.append(row[column].strip())
        for c, i in enumerate(features):
            try:
                x[r - 2, c] = float(row[i])
            except ValueError:
                x[r - 2, c] = math.nan
            if not math.isfinite(x[r - 2, c]):
                where = t("csv row {r}, column {column}").format(r=r, column=repr(header[i]))
                raise _refuse(where, row[i], t("a finite number"))
    classes = tuple(sorted(set(labels)))
    if not 2 <= len(classes) <= LIMITS["csv_classes"]:
        top = t("2 to {top}").format(top=LIMITS["csv_classes"])
        raise _refuse(t("label column's classes"), len(classes), top)
    index = {name: k for k, name in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype=np.int64)
    if np.bincount(y).min() < 2:
        raise _refuse(t("label column"), t("a class with one row"), t("at least 2 rows per class"))
    names = tuple(header[i] for i in features)
    return Upload(x.astype(np.float32), y, classes, names, header[column])


def _scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training side's mean and deviation per feature; a feature constant there keeps
    its scale (dividing by ~0 would blow up a validation value that differs)."""
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std < 1e-6, 1.0, std).astype(x.dtype)


def _split_upload(upload: Upload, seed: int) -> Arrays:
    train, val = stratified_split(upload.y, 0.2, np.random.default_rng(seed))
    x, xv = upload.x[train], upload.x[val]
    mean, std = _scale(x)
    return (x - mean) / std, upload.y[train], (xv - mean) / std, upload.y[val], mean, std


def _load(config: Config) -> Arrays:
    if config.dataset in GENERATED:
        (x, y), (xv, yv) = load(config.dataset, n=config.n, noise=config.noise, seed=config.seed)
        return x, y, xv, yv, np.zeros(2, np.float32), np.ones(2, np.float32)
    (x, y), (xv, yv) = load(config.dataset)
    x = x.reshape(len(x), -1).astype(np.float32)
    xv = xv.reshape(len(xv), -1).astype(np.float32)
    # Standardise with the training side's statistics, so the default rates work.
    mean, std = _scale(x)
    return (x - mean) / std, y, (xv - mean) / std, yv, mean, std


def _round(a: np.ndarray, digits: int = 6) -> list[Any]:
    """Rounded, and finite (a diverged weight is drawn as 0; JSON has no NaN)."""
    finite = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.round(finite, digits).tolist()  # type: ignore[no-any-return]


def _bytes(values: np.ndarray) -> str:
    """Values in [0, 255] as base64 of one byte each."""
    clipped = np.clip(np.rint(np.nan_to_num(values)), 0, 255).astype(np.uint8)
    return base64.b64encode(clipped.tobytes()).decode("ascii")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def learning_rate(config: Config) -> float | schedules.Schedule:
    """The optimiser's rate: the number, or a glassnet schedule starting from it."""
    rate, period = config.learning_rate, config.decay_steps
    if config.lr_schedule == "step":
        return schedules.StepDecay(rate, period, DECAY_FACTOR)
    if config.lr_schedule == "exponential":
        return schedules.ExponentialDecay(rate, period, DECAY_FACTOR)
    if config.lr_schedule == "cosine":
        return schedules.CosineDecay(rate, period)
    return rate


def _dense(units: int, activation: str, l2: float) -> Any:
    """A Dense layer; with ``l2`` > 0 Keras's Dense with the penalty l2 Σ w² on its weights
    (glassnet.keras.regularizers; the graph adds it to the cost of every step)."""
    if not l2:
        return Dense(units, activation=activation)
    from ..keras import layers as keras_layers
    from ..keras import regularizers

    return keras_layers.Dense(units, activation=activation, kernel_regularizer=regularizers.l2(l2))


def get_weights(model: Sequential) -> list[np.ndarray]:
    """Copies of W^l (units, inputs) and b^l of every Dense layer, input side first (the
    parameters themselves: Keras's Dense would give its kernel transposed)."""
    return [np.array(p.data, copy=True) for p in model.parameters()]


def put_weights(model: Sequential, weights: list[np.ndarray]) -> None:
    """Set what ``get_weights`` returned."""
    for p, w in zip(model.parameters(), weights, strict=True):
        p.data[...] = w


class Session:
    """One tab's model, data and optimiser; every method runs under the caller's lock."""

    def __init__(self, config: Config | None = None, upload: Upload | None = None) -> None:
        self.upload = upload
        self.configure(config or Config())

    def configure(self, config: Config) -> None:
        """Build the data, the model and the optimiser from ``config`` (also Reset)."""
        if config.dataset == "csv":
            if self.upload is None:
                expected = t("a data set name until a CSV file is uploaded")
                raise _refuse("dataset", "csv", expected)
            arrays = _split_upload(self.upload, config.seed)
        else:
            arrays = _load(config)
        self.x, self.y, self.x_val, self.y_val, self.mean, self.std = arrays
        self.config = config
        self.classes = int(max(self.y.max(), self.y_val.max())) + 1
        # The boundary is drawn on the square [-extent, extent]² around every point.
        self.extent = float(np.ceil(np.abs(np.concatenate([self.x, self.x_val])).max() * 11) / 10)
        # Everything state() predicts on, in one array: training, validation, grid (2-D only).
        parts = [self.x, self.x_val] + ([self._grid()] if self.x.shape[1] == 2 else [])
        self.probe = np.concatenate(parts).astype(np.float32)
        self.model = self._build(config)
        self.model._bind_optimizer()  # what train_on_batch does before its first step
        self.rng = np.random.default_rng(config.seed)
        self.order = self.rng.permutation(len(self.x))
        self.cursor = 0
        self.steps = 0
        self.rate = config.learning_rate  # the rate the last step used (schedules change it)
        self.last: tuple[list[np.ndarray], np.ndarray, np.ndarray] | None = None
        self.trace: Any = None
        self.watch = Watch(self.model)  # the doctor's records and findings
        self.maps_at = -math.inf  # when state() last sent every neuron's map

    def _build(
        self, config: Config, weights: list[np.ndarray] | None = None, penalty: bool = True
    ) -> Sequential:
        """The network of ``config`` (with ``weights``: those); ``penalty=False`` leaves L2 out
        (backprop traces the data's cost; the story adds the penalty's 2λw itself)."""
        layers: list[Any] = []
        for units, act, rate in config.layers:
            layers.append(_dense(units, act, config.l2 if penalty else 0.0))
            if rate:
                layers.append(Dropout(rate))
        layers.append(_dense(self.classes, LOSSES[config.loss][1], config.l2 if penalty else 0.0))
        model = Sequential(layers)
        with _BUILD_LOCK:  # glassnet's initialisers draw from the one global generator
            state = _rng.get_state()
            _rng.seed(config.seed)
            model.build((self.x.shape[1],))
            _rng.set_state(state)
        optimizer = {"adam": optimizers.Adam, "sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop}
        model.compile(
            optimizer=optimizer[config.optimizer](learning_rate=learning_rate(config)),
            loss=LOSSES[config.loss][0],
            metrics=["accuracy"],
        )
        if weights is not None:
            put_weights(model, weights)
        return model

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Labels as the loss takes them: class indices, or one-hot rows for the MSE."""
        if self.config.loss == "mse":
            return np.eye(self.classes, dtype=np.float32)[y]
        return y

    def step(self) -> float:
        """Exactly one mini-batch: remember the weights before it and the batch, then train."""
        size = min(self.config.batch_size, len(self.x))
        if self.cursor + size > len(self.order):
            self.order = self.rng.permutation(len(self.x))
            self.cursor = 0
            self._end_epoch()
        first_of_epoch = self.cursor == 0
        idx = self.order[self.cursor : self.cursor + size]
        self.cursor += size
        xb, yb = self.x[idx], self.targets(self.y[idx])
        self.last = (get_weights(self.model), xb, yb)
        self.trace = None
        record = self.watch.wants(self.steps, first_of_epoch)
        if record:
            self.watch.begin(self.steps)
        # fit's own step function, with fit's telemetry recorder on sampled steps (the doctor
        # reads it); train_on_batch takes no recorder.
        result = self.model._step_function()(xb, yb, self.watch.telemetry if record else None)
        used = self.model.optimizer.last_learning_rate  # type: ignore[union-attr]
        self.rate = float(used if used is not None else self.config.learning_rate)
        outputs = np.asarray(getattr(result.outputs, "data", result.outputs))
        hits = int(np.sum(outputs.argmax(axis=1) == self.y[idx]))
        self.watch.record(result.loss, self.rate, hits, len(idx))
        self.steps += 1
        return float(result.loss)

    def _end_epoch(self) -> None:
        """The epoch's validation loss and accuracy, for the doctor's History."""
        if self.steps == 0:
            return
        probs = self.model.predict(self.x_val, batch_size=len(self.x_val))
        self.watch.end_epoch(*self._metrics(self.y_val, probs))

    def state(self, live: bool = False) -> dict[str, Any]:
        """What the page draws after a step: counts, loss/accuracy, weights, the boundary, every
        neuron's map (while playing, ``live``: at most ``MAPS_PER_SECOND`` times a second).

        One forward pass over the training points, the validation points and the boundary's grid
        together (three calls cost three times the fixed cost of one, up to 35 times a second),
        keeping every Dense layer's output: the last is the prediction, the hidden ones on the
        grid are every neuron's output map; the losses are the compiled loss's own per-sample
        C_x on those outputs.
        """
        n, m = len(self.x), len(self.x_val)
        outputs = self.dense_outputs(self.probe)
        probs = outputs[-1]
        loss, acc = self._metrics(self.y, probs[:n])
        val_loss, val_acc = self._metrics(self.y_val, probs[n : n + m])
        weights = get_weights(self.model)
        out: dict[str, Any] = {
            "type": "state",
            "step": self.steps,
            "loss": _finite(loss),
            "accuracy": _finite(acc),
            "val_loss": _finite(val_loss),
            "val_accuracy": _finite(val_acc),
            "sizes": [self.x.shape[1], *[u for u, _, _ in self.config.layers], self.classes],
            "weights": [
                None if i == 0 and w.shape[1] > DRAWN_INPUTS else _round(w, 4)
                for i, w in enumerate(weights[0::2])
            ],
            "findings": self.findings(),
            "rate": self.rate,
        }
        if self.x.shape[1] == 2:
            out["boundary"] = self.boundary(probs[n + m :])
            now = time.monotonic()
            if not live or now - self.maps_at >= 1.0 / MAPS_PER_SECOND:
                self.maps_at = now
                out["maps"] = self.neuron_maps([a[n + m :] for a in outputs[:-1]])
        if self.config.dataset in IMAGES:
            out["images"] = self.images(weights[0], probs[n : n + m])
        return out

    def images(self, W: np.ndarray, probs_val: np.ndarray) -> dict[str, Any]:
        """For image sets: each first-layer neuron's weights as an image (grey = 0, scaled
        by the layer's largest |w|), and up to 8 misclassified validation images with their
        true and predicted labels; pixels as base64 bytes."""
        scale = float(np.abs(W).max()) or 1.0
        first = [_bytes(127.5 + 127.5 * row / scale) for row in W]
        predicted = probs_val.argmax(axis=1)
        wrong = np.flatnonzero(predicted != self.y_val)[:8]
        raw = self.x_val[wrong] * self.std + self.mean  # undo the standardisation
        low, high = float(raw.min(initial=0.0)), float(raw.max(initial=1.0))
        return {
            "shape": list(IMAGES[self.config.dataset]),
            "first": first,
            "wrong": [
                {
                    "pixels": _bytes((r - low) / ((high - low) or 1) * 255),
                    "label": int(self.y_val[i]),
                    "predicted": int(predicted[i]),
                }
                for r, i in zip(raw, wrong)
            ],
        }

    def _metrics(self, y: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
        assert self.model.loss is not None  # compiled in _build
        t = self.targets(y)
        loss = float(np.mean(self.model.loss.per_sample(t, probs.astype(np.float64))))
        return loss, float(np.mean(probs.argmax(axis=1) == y))

    def points(self) -> dict[str, Any]:
        """The data once per configuration (2-D sets only draw points)."""
        two_d = self.x.shape[1] == 2
        return {
            "type": "data",
            "extent": self.extent,
            "classes": self.classes,
            "x": _round(self.x, 3) if two_d else [],
            "y": self.y.tolist() if two_d else [],
            "x_val": _round(self.x_val, 3) if two_d else [],
            "y_val": self.y_val.tolist() if two_d else [],
            "config": self.config.__dict__
            | {
                "layers": [
                    {"units": u, "activation": a, "dropout": r} for u, a, r in self.config.layers
                ]
            },
            "csv": None
            if self.upload is None
            else {
                "rows": len(self.upload.y),
                "features": list(self.upload.columns),
                "label": self.upload.label,
                "classes": list(self.upload.classes),
            },
        }

    def boundary(self, p: np.ndarray) -> dict[str, Any]:
        """The predicted class and its probability (× 255) on a grid × grid square, row 0 at
        the top, each as base64 of one byte per cell; ``p`` is the model's output on the grid."""
        g = int(LIMITS["grid"])
        # Bytes in base64, not lists of numbers: the grid goes out up to 35 times a second.
        cls = p.argmax(axis=1).astype(np.uint8)
        conf = np.clip(np.rint(p.max(axis=1) * 255), 0, 255).astype(np.uint8)
        return {
            "size": g,
            "cls": base64.b64encode(cls.tobytes()).decode("ascii"),
            "conf": base64.b64encode(conf.tobytes()).decode("ascii"),
        }

    def _last_trace(self) -> Any:
        """``backprop`` on the weights before the last step and its mini-batch (cached)."""
        if self.last is None:
            raise InvalidArgumentError(
                t(
                    "story: no step has been taken yet, received a click before any Step; "
                    "press Step first"
                )
            )
        if self.trace is None:
            weights, xb, yb = self.last
            if not all(np.isfinite(w).all() for w in weights):
                raise InvalidArgumentError(
                    t(
                        "story: the weights before the last step must be finite numbers, "
                        "received NaN or inf (the network diverged); lower the learning rate "
                        "and Reset"
                    )
                )
            twin = self._build(self.config, weights, penalty=False)
            plain = self.config.optimizer == "sgd" and not self.config.l2
            exact = plain and not any(self.config.dropout) and self.rate > 0
            rate = self.rate if exact else None
            loss = LOSSES[self.config.loss][0]
            self.trace = backprop(twin, xb, yb, loss=loss, learning_rate=rate)
        return self.trace

    def _check_weight(self, l: int, j: int, k: int | None) -> None:
        sizes = [self.x.shape[1], *[u for u, _, _ in self.config.layers], self.classes]
        if not 1 <= l < len(sizes) or not 1 <= j <= sizes[l]:
            expected = t("a layer 1..{top} and a neuron in it").format(top=len(sizes) - 1)
            raise _refuse(t("neuron"), (l, j), expected)
        if k is not None and not 1 <= k <= sizes[l - 1]:
            raise _refuse("k", k, t("an input index from 1 to {top}").format(top=sizes[l - 1]))

    def story(self, l: int, j: int, k: int) -> dict[str, Any]:
        """Weight w^l_jk's backpropagation in the last step, from glassnet.explain."""
        self._check_weight(l, j, k)
        trace = self._last_trace()
        layer = trace.layer(l)
        before = float(layer.W[j - 1, k - 1])
        after = float(get_weights(self.model)[2 * (l - 1)][j - 1, k - 1])
        # One sample's paths in full (the batch's would be n times as long); the batch's
        # gradient is the mean of such per-sample sums.
        assert self.last is not None
        first = self._build(self.config, self.last[0], penalty=False)
        loss = LOSSES[self.config.loss][0]
        path = backprop(first, trace.x[:1], trace.y[:1], loss=loss).path(l, j, k)
        return {
            "type": "story",
            "l": l,
            "j": j,
            "k": k,
            "text": path.to_text(precision=4),
            "batch": trace.batch_size,
            "a_prev_k": float(np.mean(layer.a_prev[:, k - 1])),
            "delta_j": float(np.mean(layer.delta[:, j - 1])),
            "grad": float(layer.grad_W[j - 1, k - 1]),
            "before": before,
            "after": after,
            "optimizer": self.config.optimizer,
            "learning_rate": self.rate,
            "sample_total": path.value,
            # L2's share of this step's gradient: ∂(λ Σ w²)/∂w = 2λw (not in the trace)
            "l2_term": 2 * self.config.l2 * before,
            "dropout": list(self.config.dropout),  # each hidden layer's rate
            "loss": self.config.loss,
        }

    def neuron(self, l: int, j: int) -> dict[str, Any]:
        """Neuron j of layer l in the last step: z, a, σ'(z), δ (first sample, batch mean)."""
        self._check_weight(l, j, None)
        layer = self._last_trace().layer(l)
        values = {
            name: getattr(layer, name)[:, j - 1] for name in ("z", "a", "sigma_prime", "delta")
        }
        out = {
            "type": "neuron",
            "l": l,
            "j": j,
            "activation": layer.activation,
            "first": {k: float(v[0]) for k, v in values.items()},
            "mean": {k: float(np.mean(v)) for k, v in values.items()},
            "status": _status(layer.activation, values["a"], values["sigma_prime"]),
        }
        if self.x.shape[1] == 2:
            out["map"] = self.neuron_map(l, j)
        return out

    def _grid(self) -> np.ndarray:
        g = int(LIMITS["grid"])
        ticks = np.linspace(-self.extent, self.extent, g, dtype=np.float32)
        xx, yy = np.meshgrid(ticks, ticks[::-1])
        return np.stack([xx.ravel(), yy.ravel()], axis=1)

    def dense_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """a^l of every Dense layer for the inputs ``x`` (input side first), in one forward pass
        through the layers' own kernels in inference mode (Dropout passes a through)."""
        out = []
        a = x
        for layer in self.model.layers:
            a = forward_arrays([layer], a)
            if isinstance(layer, Dense):
                out.append(a)
        return out

    def neuron_maps(self, hidden: list[np.ndarray]) -> list[dict[str, Any]]:
        """Every hidden neuron's output a^l_j over the grid (``hidden``: each hidden layer's
        outputs on the boundary's grid), every ``stride``-th point each way, one byte per cell:
        127.5 (white) at a = 0, 0 (orange) at −scale, 255 (blue) at +scale — scale 1 for tanh and
        sigmoid, else the layer's largest |a| (sent along). One base64 string per layer, its
        neurons one after another."""
        g = int(LIMITS["grid"])
        units = sum(a.shape[1] for a in hidden)
        stride = 2 if units <= 128 else 5  # at most 128 × 625 or 512 × 100 bytes per update
        out = []
        for a, (_, activation, _) in zip(hidden, self.config.layers):
            cells = np.nan_to_num(a.reshape(g, g, -1)[::stride, ::stride].astype(np.float64))
            top = float(np.abs(cells).max(initial=0.0))
            scale = 1.0 if activation in ("tanh", "sigmoid") else (top or 1.0)
            values = 127.5 + 127.5 * np.moveaxis(cells, 2, 0) / scale
            out.append({"size": cells.shape[0], "scale": scale, "values": _bytes(values)})
        return out

    def neuron_map(self, l: int, j: int) -> dict[str, Any]:
        """Neuron j of layer l's output a^l_j over the boundary's grid, with today's weights:
        scaled to bytes between ``low`` and ``high``."""
        self._check_weight(l, j, None)
        a = np.nan_to_num(self.dense_outputs(self._grid())[l - 1][:, j - 1].astype(np.float64))
        low, high = float(a.min()), float(a.max())
        scaled = np.rint((a - low) / (high - low) * 255) if high > low else np.zeros_like(a)
        return {
            "size": int(LIMITS["grid"]),
            "low": low,
            "high": high,
            "values": base64.b64encode(scaled.astype(np.uint8).tobytes()).decode("ascii"),
        }

    def export(self) -> dict[str, Any]:
        """The trained model as a glassnet model file (base64) and the Python that rebuilds it."""
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "playground.glassnet")
            self.model.save(path)
            with open(path, "rb") as f:
                blob = f.read()
        return {
            "type": "export",
            "model": base64.b64encode(blob).decode("ascii"),
            "code": python_code(self.config, label=self.upload.label if self.upload else None),
            "steps": self.steps,
        }

    def findings(self, force: bool = False) -> list[dict[str, Any]]:
        """The doctor's findings so far (glassnet.diagnostics' rules, those fit's doctor
        runs), each with its title, evidence and advice; the rules run at most once a second
        unless ``force``."""
        return self.watch.check(self.model, self.steps, force)


def _status(activation: str, a: np.ndarray, sigma_prime: np.ndarray) -> str:
    if activation == "relu" and np.all(a <= 0):
        return "dead (a = 0 for the whole batch, so σ' = 0 and it cannot learn)"
    if activation in ("tanh", "sigmoid") and np.all(np.abs(sigma_prime) < 0.01):
        return "saturated (σ'(z) < 0.01 for the whole batch: it learns slowly)"
    return "ok"


def python_code(config: Config, epochs: int = 50, label: str | None = None) -> str:
    """A Python program that rebuilds the playground's network and trains it with ``fit``.

    The same data (set, points, noise, seed), layers, dropout, L2, loss, optimiser, rate and
    its schedule, and batch size; fit
    shuffles with its own order, so its numbers are not the page's step for step. For an
    uploaded CSV (``label``: its label column) the program reads ``data.csv`` and splits it
    with ``train_val_split``, not with the page's stratified split.
    """
    if config.dataset == "csv":
        data = (
            "import csv\n"
            "import numpy as np\n"
            "from glassnet.datasets import train_val_split\n\n"
            "with open('data.csv', newline='') as f:  # the file uploaded to the playground\n"
            "    rows = [r for r in csv.DictReader(f) if any(r.values())]\n"
            f"label = {label!r}\n"
            "features = [c for c in rows[0] if c != label]\n"
            "names = sorted({r[label].strip() for r in rows})\n"
            "x_all = np.array([[float(r[c]) for c in features] for r in rows], dtype='float32')\n"
            "y_all = np.array([names.index(r[label].strip()) for r in rows])\n"
            "(x, y), (x_val, y_val) = train_val_split(x_all, y_all, 0.2, shuffle=True, "
            f"seed={config.seed})\n"
            "mean, std = x.mean(axis=0), x.std(axis=0)  # standardise, as the page does\n"
            "std[std < 1e-6] = 1.0  # a column constant in training (digits' border pixels)\n"
            "x, x_val = (x - mean) / std, (x_val - mean) / std\n"
        )
    elif config.dataset in GENERATED:
        data = (
            f"(x, y), (x_val, y_val) = load({config.dataset!r}, n={config.n}, "
            f"noise={config.noise!r}, seed={config.seed})\n"
        )
    else:
        data = (
            f"(x, y), (x_val, y_val) = load({config.dataset!r})\n"
            "x, x_val = x.reshape(len(x), -1).astype('float32'), "
            "x_val.reshape(len(x_val), -1).astype('float32')\n"
            "mean, std = x.mean(axis=0), x.std(axis=0)  # standardise, as the page does\n"
            "std[std < 1e-6] = 1.0  # a column constant in training (digits' border pixels)\n"
            "x, x_val = (x - mean) / std, (x_val - mean) / std\n"
        )
    loss, output = LOSSES[config.loss]
    dense = "keras_layers.Dense" if config.l2 else "Dense"
    penalty = f", kernel_regularizer=regularizers.l2({config.l2!r})" if config.l2 else ""
    layers = "".join(
        f"        {dense}({u}, activation={a!r}{penalty}),\n"
        + (f"        Dropout({rate!r}),\n" if rate else "")
        for u, a, rate in config.layers
    )
    optimizer = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[config.optimizer]
    schedule = {"step": "StepDecay", "exponential": "ExponentialDecay", "cosine": "CosineDecay"}
    rate = repr(config.learning_rate)
    imports = (
        "from glassnet.layers import Dense, Dropout\n"
        if any(config.dropout)
        else ("from glassnet.layers import Dense\n")
    )
    if config.l2:
        imports += "from glassnet.keras import layers as keras_layers, regularizers\n"
    if config.lr_schedule != "constant":
        name = schedule[config.lr_schedule]
        imports += f"from glassnet.schedules import {name}\n"
        extra = f", {DECAY_FACTOR!r}" if config.lr_schedule != "cosine" else ""
        rate = f"{name}({rate}, {config.decay_steps}{extra})"
    one_hot = (
        "y_fit, y_val_fit = np.eye(int(y.max()) + 1)[y], np.eye(int(y.max()) + 1)[y_val]"
        "  # MSE: one-hot targets\n"
        if config.loss == "mse"
        else "y_fit, y_val_fit = y, y_val\n"
    )
    return (
        "# The playground's network, rebuilt and trained with glassnet (glassnet playground).\n"
        "import numpy as np\n"
        "import glassnet as gn\n"
        "from glassnet.datasets import load\n"
        f"{imports}"
        f"from glassnet.optimizers import {optimizer}\n\n"
        f"{data}"
        f"{one_hot}"
        f"gn.seed({config.seed})  # the initial weights\n"
        "model = gn.Sequential(\n"
        "    [\n"
        f"{layers}"
        f"        {dense}(int(y.max()) + 1, activation={output!r}{penalty}),\n"
        "    ]\n"
        ")\n"
        "model.build((x.shape[1],))\n"
        "model.compile(\n"
        f"    optimizer={optimizer}(learning_rate={rate}),\n"
        f"    loss={loss!r},\n"
        "    metrics=['accuracy'],\n"
        ")\n"
        f"model.fit(x, y_fit, batch_size={config.batch_size}, epochs={epochs}, verbose=0,\n"
        "          validation_data=(x_val, y_val_fit))\n"
        "print(model.evaluate(x_val, y_val_fit, return_dict=True))\n"
        "model.save('playground.glassnet')\n"
    )
