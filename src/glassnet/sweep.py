"""Hyperparameter sweeps on Ray Tune: ``glassnet sweep`` and ``glassnet.sweep.run``.

A sweep runs a training function once per configuration of a search space — a grid, random
samples, or both — on a local Ray instance by default or on a cluster (``address``), with
Ray Tune's ASHA scheduler stopping poor trials early, then prints a table of the trials and
saves the best configuration as JSON (atomically). A trial that raises is recorded as failed
and the others go on. The training function reports its metrics once per epoch, through
``report(...)`` or the ``Report()`` callback of ``fit``::

    def train(config):
        glassnet.seed(0)
        model = ...  # built from config["units"], config["learning_rate"], ...
        model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[glassnet.sweep.Report()])

    result = glassnet.sweep.run(train, {"learning_rate": tune.loguniform(1e-4, 1e-1)},
                                trials=16, metric="val_accuracy", asha=True, max_epochs=5)
    print(result.table()); result.save_best("best.json")

Ray is imported only here, when a sweep runs (``pip install glassnet[ray]``). Where this module
is silent, it does what Ray Tune does.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GlassnetError, InvalidArgumentError
from .io.atomic import atomic_write_text
from .training.callbacks import Callback

__all__ = [
    "MissingDependencyError",
    "Report",
    "SweepResult",
    "TrialResult",
    "parse_space",
    "report",
    "run",
]

SAMPLERS = ("loguniform", "uniform", "randint", "choice")


class MissingDependencyError(GlassnetError, ImportError):
    """An optional dependency (here Ray Tune) that a feature needs is not installed."""


def _tune(where: str) -> Any:
    try:
        from ray import tune
    except ImportError as exc:
        raise MissingDependencyError(
            f"{where}: sweeps run on Ray Tune, which is not installed ({exc}); install it with "
            f"pip install glassnet[ray]"
        ) from None
    return tune


# -- inside a trial --------------------------------------------------------------------------------
def report(**metrics: float) -> None:
    """Report this trial's metrics for one training iteration (an epoch) to Ray Tune."""
    _tune("report").report({k: float(v) for k, v in metrics.items()})


class Report(Callback):
    """A ``fit`` callback reporting the epoch's logs (loss, metrics, val_*) to Ray Tune, so
    that ASHA can stop the trial after any epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        report(epoch=epoch + 1, **values)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# -- the search space ------------------------------------------------------------------------------
def _split_option(text: str, option: str) -> tuple[str, str]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise InvalidArgumentError(
            f"{option} expects NAME=VALUES such as learning-rate=0.1,0.01, received {text!r}"
        )
    return name.strip(), values.strip()


def _number(text: str, option: str, whole: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidArgumentError(
            f"{option}: expected a number, received {text!r} in {whole!r}"
        ) from None


def _sampler(tune: Any, spec: str, option: str, whole: str) -> Any:
    """A Ray Tune domain from 'loguniform:LOW:HIGH', 'uniform:LOW:HIGH', 'randint:LOW:HIGH'
    (HIGH excluded) or 'choice:A,B,C'."""
    kind, _, rest = spec.partition(":")
    if kind == "choice" and rest:
        return tune.choice(rest.split(","))
    bounds = rest.split(":")
    if kind not in SAMPLERS or kind == "choice" or len(bounds) != 2:
        raise InvalidArgumentError(
            f"{option} expects NAME=KIND:LOW:HIGH with KIND one of loguniform, uniform, randint "
            f"(or NAME=choice:A,B,C), received {whole!r}"
        )
    low, high = (_number(b, option, whole) for b in bounds)
    if not low < high or (kind == "loguniform" and low <= 0):
        raise InvalidArgumentError(
            f"{option}: expected LOW < HIGH (and LOW > 0 for loguniform), received {whole!r}"
        )
    if kind == "randint":
        return tune.randint(int(low), int(high))
    return getattr(tune, kind)(low, high)


def parse_space(grid: Sequence[str] = (), sample: Sequence[str] = ()) -> dict[str, Any]:
    """A Ray Tune search space from ``NAME=V1,V2`` grid axes and ``NAME=KIND:LOW:HIGH``
    samplers (values stay strings for a grid; sampled values are numbers)."""
    tune = _tune("sweep")
    space: dict[str, Any] = {}
    for text in grid:
        name, values = _split_option(text, "--grid")
        items = [v.strip() for v in values.split(",")]
        if any(not v for v in items):
            raise InvalidArgumentError(f"--grid: a value is empty in {text!r}")
        space[name] = tune.grid_search(items)
    for text in sample:
        name, spec = _split_option(text, "--sample")
        if name in space:
            raise InvalidArgumentError(f"--sample: {name!r} is given twice (also in --grid)")
        space[name] = _sampler(tune, spec, "--sample", text)
    return space


# -- results ---------------------------------------------------------------------------------------
@dataclass
class TrialResult:
    """One trial: its configuration, status ("completed", "stopped early" by ASHA, "failed"),
    the last metrics it reported, the epochs it ran and, if it failed, why."""

    trial_id: str
    config: dict[str, Any]
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0
    error: str | None = None


@dataclass
class SweepResult:
    """Every trial of a sweep and the best one by ``metric`` (``mode`` "max" or "min")."""

    trials: list[TrialResult]
    metric: str
    mode: str

    @property
    def best(self) -> TrialResult | None:
        """The trial whose last reported ``metric`` is best (failed ones excluded)."""
        scored = [t for t in self.trials if t.status != "failed" and _finite(t, self.metric)]
        if not scored:
            return None
        sign = 1.0 if self.mode == "max" else -1.0
        return max(scored, key=lambda t: sign * float(t.metrics[self.metric]))

    @property
    def failed(self) -> list[TrialResult]:
        return [t for t in self.trials if t.status == "failed"]

    def table(self) -> str:
        """The trials as a text table, best first, failed last."""
        keys = sorted({k for t in self.trials for k in t.config})
        headers = ["trial", "status", *keys, self.metric, "epochs"]
        sign = -1.0 if self.mode == "max" else 1.0

        def order(t: TrialResult) -> tuple[int, float]:
            score = float(t.metrics[self.metric]) if _finite(t, self.metric) else math.inf
            return (t.status == "failed", sign * score if score != math.inf else math.inf)

        rows = []
        for t in sorted(self.trials, key=order):
            value = f"{float(t.metrics[self.metric]):.4f}" if _finite(t, self.metric) else "-"
            status = t.status if t.error is None else f"failed: {_short(t.error)}"
            rows.append(
                [t.trial_id, status, *(_show(t.config.get(k)) for k in keys), value, str(t.epochs)]
            )
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def best_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "metric": self.metric,
            "mode": self.mode,
            "value": None if best is None else float(best.metrics[self.metric]),
            "trial_id": None if best is None else best.trial_id,
            "config": None if best is None else best.config,
            "trials": len(self.trials),
            "failed": len(self.failed),
        }

    def save_best(self, path: str | os.PathLike[str]) -> None:
        """Write the best configuration and its score as JSON (atomically)."""
        text = json.dumps(self.best_dict(), indent=2, default=str) + "\n"
        atomic_write_text(path, text, where="sweep")


def _finite(trial: TrialResult, metric: str) -> bool:
    value = trial.metrics.get(metric)
    return value is not None and _is_number(value) and math.isfinite(float(value))


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- running ---------------------------------------------------------------------------------------
def _start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` or start a quiet local Ray; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "configure_logging": True,
    }
    if address is None:
        options["num_cpus"] = num_cpus
        # The workers import this glassnet, wherever it was imported from here.
        package_root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
    else:
        options["address"] = address
    ray.init(**options)
    return True


@contextlib.contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune's own progress and error printing off: the result's table says it all."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "ray.train", "ray.air")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _status(result: Any, asha: bool, max_epochs: int | None) -> tuple[str, str | None]:
    if result.error is not None:
        cause = getattr(result.error, "cause", None) or result.error
        return "failed", f"{type(cause).__name__}: {cause}"
    epochs = int(result.metrics.get("training_iteration", 0) or 0)
    if asha and max_epochs is not None and epochs < max_epochs:
        return "stopped early", None
    return "completed", None


def run(
    train_fn: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    *,
    trials: int = 1,
    metric: str = "val_accuracy",
    mode: str = "max",
    asha: bool = False,
    max_epochs: int | None = None,
    grace_period: int = 1,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_trial: float = 1,
    storage_path: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    name: str = "glassnet-sweep",
) -> SweepResult:
    """Run ``train_fn(config)`` for each configuration of ``space`` on Ray Tune.

    ``space``: a dict of Ray Tune domains (``tune.grid_search``, ``tune.loguniform``, …) or
    constants (``parse_space`` builds one from the command line's strings); ``trials``: random
    samples drawn (a grid is repeated that many times, as in Ray Tune). ``metric``/``mode``:
    what ``best`` means. ``asha=True`` stops poor trials early with ASHA, every trial running
    at most ``max_epochs`` reported epochs. ``address``: a Ray cluster ("auto", "ray://…");
    by default a local Ray with ``num_cpus`` CPUs (all by default), started and stopped here.
    A trial that raises is recorded as failed; the sweep goes on.
    """
    tune = _tune("sweep")
    where = "sweep"
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"{where}: mode must be 'max' or 'min', received {mode!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise InvalidArgumentError(f"{where}: trials must be an integer ≥ 1, received {trials!r}")
    if asha and (not isinstance(max_epochs, int) or max_epochs < 1):
        raise InvalidArgumentError(
            f"{where}: asha=True needs max_epochs, the most epochs a trial runs (an integer "
            f"≥ 1), received max_epochs={max_epochs!r}"
        )
    if not callable(train_fn):
        raise InvalidArgumentError(f"{where}: train_fn must be a function of the configuration")
    from ray.tune.search.basic_variant import BasicVariantGenerator

    scheduler = None
    if asha:
        scheduler = tune.schedulers.ASHAScheduler(
            max_t=max_epochs, grace_period=grace_period, reduction_factor=2
        )
    started = _start_ray(address, num_cpus)
    try:
        tuner = tune.Tuner(
            tune.with_resources(train_fn, {"cpu": cpus_per_trial}),
            param_space=dict(space),
            tune_config=tune.TuneConfig(
                metric=metric,
                mode=mode,
                scheduler=scheduler,
                num_samples=trials,
                search_alg=BasicVariantGenerator(random_state=seed),
                # One worker process runs trial after trial: no Python start-up and imports
                # per trial (most of a small trial's time).
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=None if storage_path is None else str(Path(storage_path).resolve()),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                verbose=0,
            ),
        )
        with _quiet_tune():  # failed trials are reported in the table, not as tracebacks
            grid = tuner.fit()
        results = []
        for i in range(len(grid)):
            r = grid[i]
            status, error = _status(r, asha, max_epochs)
            metrics = {k: v for k, v in (r.metrics or {}).items() if _is_number(v)}
            results.append(
                TrialResult(
                    trial_id=str((r.metrics or {}).get("trial_id", i)),
                    config=dict(r.config or {}),
                    status=status,
                    metrics=metrics,
                    epochs=int(metrics.get("training_iteration", 0) or 0),
                    error=error,
                )
            )
    finally:
        if started:
            import ray

            ray.shutdown()
    return SweepResult(results, metric, mode)
