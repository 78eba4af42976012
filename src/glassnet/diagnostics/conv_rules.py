"""The doctor's rules for convolutional layers, judged per filter.

A convolution's filter is one set of weights W[..., f] slid over every position, so it lives or
dies as a whole: a ReLU filter whose z ≤ 0 at every position of every sample outputs a = 0
everywhere, its δ is 0 everywhere (σ'(z) = 0, BP2) and by BP4 ∂C/∂W[..., f], the correlation of
a^(l-1) with δ, is 0 — it never learns back. A sigmoid or tanh filter whose outputs mostly sit
where σ'(z) ≈ 0 learns as slowly as a saturated Dense unit. Telemetry keeps, per sample and per
filter, the share of z ≤ 0, of saturated outputs, ‖∂C/∂W‖ and mean |δ|
(``Telemetry.filters``); these rules read them over the latest epoch and name the layer and
the filters (counted from 0, as in W[..., f]).

The thresholds are module constants, documented in docs/diagnostics.md.
"""

from __future__ import annotations

import numpy as np

from ..i18n import N_, t
from .rules import SATURATION_FRACTION, Finding, Rule, RunView, _finding, _pct, fmt

__all__ = [
    "CONV_RULES",
    "DEAD_FILTER_SHARE",
    "FILTER_SATURATION_FRACTION",
    "FILTER_WARNING_SHARE",
    "check_dead_filters",
    "check_saturated_filters",
    "filter_window",
]

#: dead_filters: a filter is dead when z ≤ 0 at every position of every sample of the batch in
#: more than this share of the latest samples (a filter that wakes up now and then is alive).
DEAD_FILTER_SHARE = 0.5
#: saturated_filters: a filter's median share of saturated outputs (σ'(z) below 5 % of its
#: maximum) over the latest samples is above this (the Dense rule's threshold).
FILTER_SATURATION_FRACTION = SATURATION_FRACTION
#: A finding is a "warning" when more than this share of the layer's filters is affected, else
#: "info" (a few lost filters of many cost capacity, not training).
FILTER_WARNING_SHARE = 0.1

_SHOWN = 16  # filter indices listed in a sentence before "and N more"


def filter_window(view: RunView, layer: str, stat: str) -> np.ndarray:
    """The latest epoch's samples of one per-filter statistic: (samples, filters)."""
    values = view.filters.get(layer, {}).get(stat)
    if values is None or values.ndim != 2 or not len(values):
        return np.zeros((0, 0))
    return view.window(values)  # type: ignore[no-any-return]


def _listed(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return t("{first} and {last}").format(first=t(", ").join(words[:-1]), last=words[-1])


def _indices(found: np.ndarray) -> str:
    """ "1 and 3", "0, 2 and 5", "0, 1, …, 15 and 20 more" for a list of filter indices."""
    shown = [str(int(i)) for i in found[:_SHOWN]]
    more = len(found) - len(shown)
    if more:
        return t("{shown} and {more} more").format(shown=t(", ").join(shown), more=more)
    return _listed(shown)


def _share_of_samples(share: float, samples: int) -> str:
    if share >= 1.0:
        if samples > 1:
            return t("every one of the latest {samples} samples").format(samples=samples)
        return t("the latest sample")
    return t("at least {pct} of the latest {samples} samples").format(
        pct=_pct(share), samples=samples
    )


def _which_filters(found: np.ndarray) -> str:
    message = N_("filter {indices}") if len(found) == 1 else N_("filters {indices}")
    return t(message).format(indices=_indices(found))


def _gradient_clause(view: RunView, layer: str, found: np.ndarray) -> str:
    """How ‖∂C/∂W‖ of the named filters compares with the layer's other filters."""
    grads = filter_window(view, layer, "grad_norm")
    if grads.size == 0 or not np.isfinite(grads).any():
        return ""
    median = np.nanmedian(grads, axis=0)
    others = np.delete(median, found)
    theirs = float(np.nanmax(median[found])) if np.isfinite(median[found]).any() else np.nan
    if not np.isfinite(theirs):
        return ""
    mine = t("is 0") if theirs == 0 else t("is at most {value}").format(value=fmt(theirs))
    if others.size and np.isfinite(others).any():
        return t("; their ‖∂C/∂W‖ {mine} (the other filters' median: {median})").format(
            mine=mine, median=fmt(np.nanmedian(others))
        )
    return t("; their ‖∂C/∂W‖ {mine}").format(mine=mine)


def _severity(found: np.ndarray, filters: int) -> str:
    return "warning" if len(found) > FILTER_WARNING_SHARE * filters else "info"


def check_dead_filters(view: RunView) -> list[Finding]:
    """ReLU filters whose z ≤ 0 at every position of every sample of the batch."""
    out = []
    for layer in view.filters:
        if view.activation(layer) != "relu":
            continue
        zero = filter_window(view, layer, "zero_fraction")
        if zero.size == 0:
            continue
        dead_share = (zero >= 1.0).mean(axis=0)
        found = np.flatnonzero(dead_share > DEAD_FILTER_SHARE)
        if not found.size:
            continue
        filters = zero.shape[1]
        out.append(
            _finding(
                view,
                "dead_filters",
                t(
                    "{n} of {filters} ReLU filters of {layer} are dead ({which}, counted from 0 "
                    "as in W[..., f]): z <= 0 at every position of every sample of the batch in "
                    "{samples}{gradient}."
                ).format(
                    n=len(found),
                    filters=filters,
                    layer=layer,
                    which=_which_filters(found),
                    samples=_share_of_samples(float(np.min(dead_share[found])), len(zero)),
                    gradient=_gradient_clause(view, layer, found),
                ),
                t(
                    "A dead filter outputs a = 0 everywhere, so σ'(z) = 0 and its δ is 0 at "
                    "every position (BP2), and by BP4 ∂C/∂W, the correlation of a^(l-1) with "
                    "δ^l, is 0: it never learns back. Use He initialisation "
                    "(kernel_initializer='he_normal') and biases >= 0, a lower learning rate, "
                    "BatchNormalization before the ReLU, or "
                    "LeakyReLU; if the other filters suffice, fewer filters cost nothing."
                ),
                layer=layer,
                severity=_severity(found, filters),
            )
        )
    return out


def check_saturated_filters(view: RunView) -> list[Finding]:
    """Sigmoid/tanh/softplus filters whose outputs mostly sit where σ'(z) ≈ 0."""
    out = []
    for layer in view.filters:
        saturated = filter_window(view, layer, "saturated_fraction")
        if saturated.size == 0 or not np.isfinite(saturated).any():
            continue
        median = np.nanmedian(saturated, axis=0)
        found = np.flatnonzero(median > FILTER_SATURATION_FRACTION)
        if not found.size:
            continue
        filters, act = saturated.shape[1], view.activation(layer)
        shares = _listed([_pct(float(v)) for v in median[found[:_SHOWN]]])
        if len(found) > _SHOWN:
            shares = t("respectively {shares} (the first ones)").format(shares=shares)
        elif len(found) > 1:
            shares = t("respectively {shares}").format(shares=shares)
        out.append(
            _finding(
                view,
                "saturated_filters",
                t(
                    "{n} of {filters} {act} filters of {layer} are saturated ({which}, counted "
                    "from 0 as in W[..., f]): {shares} of their outputs have σ'(z) below 5% of "
                    "its maximum (median over the latest samples){gradient}."
                ).format(
                    n=len(found),
                    filters=filters,
                    act=act,
                    layer=layer,
                    which=_which_filters(found),
                    shares=shares,
                    gradient=_gradient_clause(view, layer, found),
                ),
                t(
                    "By BP2, δ^l = (error from above) ⊙ σ'(z^l) ≈ 0 at a saturated position, so "
                    "these filters' weights barely learn (BP4). Scale the inputs to mean 0 and std "
                    "1, use a smaller initialisation (Glorot) and biases near 0, put "
                    "BatchNormalization before the activation, or use ReLU."
                ),
                layer=layer,
                severity=_severity(found, filters),
            )
        )
    return out


CONV_RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "dead_filters", N_("dead convolution filters"), check_dead_filters, needs_telemetry=True
        ),
        Rule(
            "saturated_filters",
            N_("saturated convolution filters"),
            check_saturated_filters,
            needs_telemetry=True,
        ),
    )
}
