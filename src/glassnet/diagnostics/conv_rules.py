"""The doctor's rules for convolutional layers, judged per filter.

A convolution's filter is one set of weights W[..., f] slid over every position, so it lives or
dies as a whole: a ReLU filter whose z ≤ 0 at every position of every sample outputs a = 0
everywhere, its δ is 0 everywhere (σ'(z) = 0, BP2) and by BP4 ∂C/∂W[..., f], the correlation of
a^(l-1) with δ, is 0 — it never learns back. A sigmoid or tanh filter whose outputs mostly sit
where σ'(z) ≈ 0 learns as slowly as a saturated Dense unit. Telemetry keeps, per sample and per
filter, the share of z ≤ 0, of saturated outputs, ‖∂C/∂W‖ and mean |δ|
(``Telemetry.filters``); these rules read them over the latest epoch and name the layer and
the filters (counted from 0, as in W[..., f]).

A convolution followed by BatchNormalization and an Activation layer (Conv → BN → ReLU, the
usual block) has a linear z of its own, so telemetry's shares say nothing about it: what lives
or dies is the activation after the normalisation. Given a batch of inputs (``Doctor(x=...)``,
``diagnose(..., x=...)``, ``report(..., x=...)``), ``probe_blocks`` runs the model's layers up
to each such convolution, normalises its output as the block does in training (the batch's
statistics; the moving ones for a frozen BatchNormalization), applies the activation, and keeps
per filter the share of outputs that are exactly 0 and the share where σ' is below 5 % of its
maximum; the same two rules judge those filters, naming the block.

The thresholds are module constants, documented in docs/diagnostics.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, describe
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
    "bn_blocks",
    "probe_blocks",
    "check_probe",
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

#: probe_blocks runs at most this many inputs (the first ones) through the model
PROBE_SAMPLES = 256
#: σ'(z) below this share of its maximum is "saturated" (as telemetry's per-filter share)
_SATURATION_THRESHOLD = 0.05
_MAX_PRIME = {"sigmoid": 0.25, "tanh": 1.0, "softplus": 1.0, "hard_sigmoid": 0.2}
_DEAD_KERNELS = ("relu", "relu6")


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


# ---------------------------------------------------------------------------------------------
# Conv → BatchNormalization → Activation blocks, judged after the activation
# ---------------------------------------------------------------------------------------------
def bn_blocks(model: Any) -> list[tuple[int, Any, Any, Any]]:
    """(index of the convolution in the model's chain, the convolution, its BatchNormalization,
    the Activation layer) for every convolution without an activation of its own that is
    followed directly by a BatchNormalization over its channels and an Activation layer."""
    from ..nn.layers import Conv1D, Conv2D, Conv2DTranspose
    from ..training.fused import kernel_chain

    chain = kernel_chain(model) if hasattr(model, "named_modules") else None
    if not chain:
        return []
    found = []
    for i, conv in enumerate(chain[:-2]):
        bn: Any = chain[i + 1]
        act: Any = chain[i + 2]
        if (
            isinstance(conv, (Conv1D, Conv2D, Conv2DTranspose))
            and conv.activation.kernel.name == "linear"
            and getattr(bn, "explain_role", None) == "batchnorm"
            and getattr(act, "explain_role", None) == "activation"
            and bn.axis in ((-1, conv.rank + 1) if conv.data_format == "channels_last" else (1,))
        ):
            found.append((i, conv, bn, act))
    return found


def check_probe(x: Any, where: str) -> np.ndarray:
    """x as an array of a batch of inputs (N, ...) with N ≥ 1, or a one-sentence error."""
    batch = np.asarray(x)
    if batch.dtype.kind not in "fiub" or batch.ndim < 2 or not len(batch):
        raise InvalidArgumentError(
            f"{where}: x must be a batch of the model's inputs, an array (N, ...) of numbers "
            f"with N >= 1, received {describe(x)}"
        )
    return batch


def probe_blocks(model: Any, x: Any) -> dict[str, dict[str, Any]]:
    """Per Conv → BatchNormalization → Activation block (``bn_blocks``), keyed by the
    convolution's name: the names of the block's layers, its activation, the number of
    inputs run, and per filter ``zero_fraction`` (outputs of the activation exactly 0) and
    ``saturated_fraction`` (σ' below 5 % of its maximum; NaN for non-saturating activations),
    from the first PROBE_SAMPLES inputs of x run through the model's current weights."""
    from ..training.fused import forward_arrays, kernel_chain

    blocks = bn_blocks(model)
    if not blocks or x is None:
        return {}
    batch = check_probe(x, "doctor")[:PROBE_SAMPLES]
    chain = kernel_chain(model)
    assert chain is not None
    out: dict[str, dict[str, Any]] = {}
    for index, conv, bn, act in blocks:
        z = np.asarray(forward_arrays(chain[: index + 1], batch), dtype=np.float64)
        if conv.data_format == "channels_first":
            z = np.moveaxis(z, 1, -1)
        filters = z.shape[-1]
        y = bn.normalise(z.reshape(-1, filters), batch_stats=bn.trainable)[0]  # as training
        kernel = act.kernel
        a = kernel.value(y)
        saturated = np.full(filters, np.nan)
        if kernel.name in _MAX_PRIME:
            limit = _SATURATION_THRESHOLD * _MAX_PRIME[kernel.name]
            saturated = (kernel.prime(y, a) < limit).mean(axis=0)
        out[conv.name] = {
            "bn": bn.name,
            "act": act.name,
            "activation": kernel.name,
            "samples": len(batch),
            "zero_fraction": (a == 0).mean(axis=0),
            "saturated_fraction": saturated,
        }
    return out


def _block_fields(
    layer: str, block: dict[str, Any], found: np.ndarray, filters: int
) -> dict[str, Any]:
    """What a Conv → BN → Activation block's finding names: the filters found, the layers."""
    return {
        "n": len(found),
        "filters": filters,
        "layer": layer,
        "bn": block["bn"],
        "act": block["act"],
        "which": _which_filters(found),
        "kernel": block["activation"],
        "samples": block["samples"],
    }


def _dead_block_findings(view: RunView) -> list[Finding]:
    out = []
    for layer, block in view.blocks.items():
        if block["activation"] not in _DEAD_KERNELS:
            continue
        found = np.flatnonzero(block["zero_fraction"] >= 1.0)
        if not found.size:
            continue
        filters = len(block["zero_fraction"])
        out.append(
            _finding(
                view,
                "dead_filters",
                t(
                    "{n} of {filters} filters of {layer} are dead after {bn} and {act} "
                    "({which}, counted from 0 as in W[..., f]): the {kernel} output is 0 at "
                    "every position of every one of {samples} inputs, the batch normalised as "
                    "in training."
                ).format(**_block_fields(layer, block, found, filters)),
                t(
                    "A dead filter's activation outputs 0 everywhere, so σ' = 0 there, the "
                    "gradient reaching the batch normalisation is 0 and so are δ and ∂C/∂W of "
                    "the convolution (BP2, BP4): it never learns back. Its normalised output "
                    "γ x̂ + β stays below 0 — look at that filter's β (and γ) in the "
                    "BatchNormalization, lower the learning rate, or use LeakyReLU."
                ),
                layer=layer,
                severity=_severity(found, filters),
            )
        )
    return out


def _saturated_block_findings(view: RunView) -> list[Finding]:
    out = []
    for layer, block in view.blocks.items():
        shares = block["saturated_fraction"]
        if not np.isfinite(shares).any():
            continue
        found = np.flatnonzero(shares > FILTER_SATURATION_FRACTION)
        if not found.size:
            continue
        filters = len(shares)
        listed = _listed([_pct(float(v)) for v in shares[found[:_SHOWN]]])
        if len(found) > 1:
            listed = t("respectively {shares}").format(shares=listed)
        out.append(
            _finding(
                view,
                "saturated_filters",
                t(
                    "{n} of {filters} filters of {layer} are saturated after {bn} and {act} "
                    "({which}, counted from 0 as in W[..., f]): {shares} of their {kernel} "
                    "outputs have σ' below 5% of its maximum, over {samples} inputs with the "
                    "batch normalised as in training."
                ).format(shares=listed, **_block_fields(layer, block, found, filters)),
                t(
                    "By BP2 the gradient through a saturated activation is ≈ 0, so these "
                    "filters (and their γ, β) barely learn. The normalised output γ x̂ + β "
                    "sits far from 0: look at those filters' γ and β in the "
                    "BatchNormalization, lower the learning rate, or use ReLU."
                ),
                layer=layer,
                severity=_severity(found, filters),
            )
        )
    return out


def check_dead_filters(view: RunView) -> list[Finding]:
    """ReLU filters whose z ≤ 0 at every position of every sample of the batch, and filters
    of Conv → BN → ReLU blocks whose output after the activation is 0 everywhere."""
    out = _dead_block_findings(view)
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
    """Sigmoid/tanh/softplus filters whose outputs mostly sit where σ'(z) ≈ 0, after their
    own activation or after a BN block's."""
    out = _saturated_block_findings(view)
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
        # Without telemetry they read only the blocks a given batch was run through.
        Rule("dead_filters", N_("dead convolution filters"), check_dead_filters),
        Rule("saturated_filters", N_("saturated convolution filters"), check_saturated_filters),
    )
}
