"""The report's pictures of a convolutional network: the first layer's filters, and one
sample's feature maps after the first (and second) convolution.

Each filter W[:, :, c, f] (Keras's layout: kernel rows, kernel columns, input channel, filter)
is drawn as one small image per input channel, rows top first as the filter lies over the
image — the layer computes a correlation, so there is no 180° flip. Weights use a diverging
scale (ColorBrewer's RdBu: blue negative, white 0, red positive) shared by the whole layer, so
filters compare. A feature map a[:, :, f] (the layer's output after its activation) is drawn
in grey from 0 (black) to the layer's largest output (white), or on the diverging scale when
outputs can be negative. Every image is a PNG written here with NumPy and zlib — no matplotlib,
no network — and scaled up in the page without smoothing, one image pixel per value.

Filters the doctor finds dead or saturated (``conv_rules.py``) are marked, and every tile's
tooltip gives its filter's statistics over the last epoch.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib
from typing import Any

import numpy as np

from ..i18n import N_, t

__all__ = ["conv_section", "png_bytes", "diverging_rgb", "grey_rgb", "CONV_STYLE"]

# ColorBrewer's RdBu (11 classes), negative (blue) to positive (red): the anchors matplotlib's
# "RdBu_r" interpolates too.
_RDBU_R = np.array(
    [
        (5, 48, 97),
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
        (103, 0, 31),
    ],
    dtype=np.float64,
)

# Tiles are shown about this many CSS pixels wide (an integer multiple of their size).
_TILE_PX = 56
# The least height of a one-row strip, in CSS pixels.
_STRIP_PX = 12

CONV_STYLE = """
.gn-grid { display: flex; flex-wrap: wrap; gap: 8px 6px; margin: 8px 0 14px; }
.gn-unit { margin: 0; text-align: center; }
.gn-unit img { image-rendering: pixelated; border: 1px solid var(--line); border-radius: 2px;
               display: inline-block; margin: 0 1px; }
.gn-unit figcaption { font-size: 11px; margin-top: 1px; color: var(--muted); }
.gn-unit.flagged img { outline: 2px solid var(--warn); outline-offset: 1px; }
.gn-unit.flagged figcaption { color: var(--warn); font-weight: 600; }
.gn-scale { display: flex; align-items: center; gap: 6px; font-size: 12px;
            color: var(--muted); margin: 4px 0 6px; }
.gn-scale img { image-rendering: pixelated; border: 1px solid var(--line); }
"""


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------
def png_bytes(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) uint8 array (one IDAT chunk, no filtering)."""
    h, w, _ = rgb.shape
    raw = np.zeros((h, 1 + 3 * w), dtype=np.uint8)  # each row starts with filter type 0
    raw[:, 1:] = rgb.reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """values in [-limit, limit] → RdBu colours (uint8, shape + (3,)): blue, white at 0, red."""
    t = np.clip(0.5 + 0.5 * np.asarray(values, dtype=np.float64) / limit, 0.0, 1.0)
    position = t * (len(_RDBU_R) - 1)
    low = np.minimum(position.astype(np.int64), len(_RDBU_R) - 2)
    frac = (position - low)[..., None]
    rgb = _RDBU_R[low] * (1.0 - frac) + _RDBU_R[low + 1] * frac
    return np.rint(rgb).astype(np.uint8)  # type: ignore[no-any-return]


def grey_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """values in [0, limit] → grey levels from black (0) to white (limit), uint8 RGB."""
    t = np.clip(np.asarray(values, dtype=np.float64) / limit, 0.0, 1.0)
    level = np.rint(255.0 * t).astype(np.uint8)
    return np.repeat(level[..., None], 3, axis=-1)  # type: ignore[no-any-return]


def _img(rgb: np.ndarray, alt: str, **data: Any) -> str:
    h, w = rgb.shape[:2]
    scale = max(1, _TILE_PX // max(h, w))
    if h == 1:  # a 1-D strip (a Conv1D's filter or feature map): wider, and _STRIP_PX tall
        scale = max(1, 2 * _TILE_PX // w)
        rgb = np.repeat(rgb, -(-_STRIP_PX // scale), axis=0)
        h = rgb.shape[0]
    height = h * scale
    attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    uri = base64.b64encode(png_bytes(rgb)).decode("ascii")
    return (
        f'<img alt="{html.escape(alt)}" width="{w * scale}" height="{height}"{attrs} '
        f'src="data:image/png;base64,{uri}">'
    )


def _scale_bar(kind: str, limit: float) -> str:
    ramp = np.linspace(-limit if kind == "diverging" else 0.0, limit, 128)[None, :]
    rgb = diverging_rgb(ramp, limit) if kind == "diverging" else grey_rgb(ramp, limit)
    uri = base64.b64encode(png_bytes(rgb)).decode("ascii")
    low = f"{-limit:.3g}" if kind == "diverging" else "0"
    return (
        f'<div class="gn-scale"><span>{low}</span><img alt="{html.escape(t("colour scale"))}" '
        f'width="160" '
        f'height="12" src="data:image/png;base64,{uri}"><span>{limit:.3g}</span></div>'
    )


def _limit(values: np.ndarray) -> float:
    biggest = float(np.max(np.abs(values))) if values.size else 0.0
    return biggest if np.isfinite(biggest) and biggest > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# what the doctor knows per filter
# ---------------------------------------------------------------------------------------------
def _block_notes(block: dict[str, Any], filters: int) -> tuple[list[str], list[str]]:
    """Tooltips and flags of a Conv → BN → Activation block's filters, from the doctor's probe
    of the test inputs (``conv_rules.probe_blocks``): judged after the activation."""
    from .conv_rules import _DEAD_KERNELS, FILTER_SATURATION_FRACTION

    tips, flags = [], []
    zero, saturated = block["zero_fraction"], block["saturated_fraction"]
    for f in range(filters):
        parts = [
            t("filter {f}").format(f=f),
            f"{block['bn']} → {block['act']}",
            t("output 0 at {pct}% of outputs").format(pct=f"{100 * zero[f]:.0f}"),
        ]
        flag = "dead" if zero[f] >= 1.0 and block["activation"] in _DEAD_KERNELS else ""
        if np.isfinite(saturated[f]):
            parts.append(t("saturated {pct}%").format(pct=f"{100 * saturated[f]:.0f}"))
            if saturated[f] > FILTER_SATURATION_FRACTION:
                flag = flag or "saturated"
        tips.append(t("; ").join(parts))
        flags.append(flag)
    return tips, flags


def _filter_notes(
    history: Any, layer: str, filters: int, blocks: dict[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """Per filter: a tooltip of its last-epoch statistics and a flag ("dead", "saturated",
    or "") by the doctor's rules; a Conv → BN → Activation block's filters are judged on the
    probe in ``blocks`` instead (after the activation)."""
    from .conv_rules import DEAD_FILTER_SHARE, FILTER_SATURATION_FRACTION, filter_window
    from .rules import RunView

    if blocks and layer in blocks and len(blocks[layer]["zero_fraction"]) == filters:
        return _block_notes(blocks[layer], filters)
    tips = [t("filter {f}").format(f=f) for f in range(filters)]
    flags = [""] * filters
    if getattr(history, "telemetry", None) is None:
        return tips, flags
    view = RunView.from_history(history)
    zero = filter_window(view, layer, "zero_fraction")
    saturated = filter_window(view, layer, "saturated_fraction")
    grads = filter_window(view, layer, "grad_norm")
    if zero.size == 0 or zero.shape[1] != filters:
        return tips, flags
    with np.errstate(all="ignore"):
        dead_share = np.where(np.isfinite(zero), zero >= 1.0, np.nan).mean(axis=0)
        zero_median = np.nanmedian(zero, axis=0) if np.isfinite(zero).any() else None
        sat_median = np.nanmedian(saturated, axis=0) if np.isfinite(saturated).any() else None
        grad_median = np.nanmedian(grads, axis=0) if np.isfinite(grads).any() else None
    for f in range(filters):
        parts = [t("filter {f} (last epoch, median)").format(f=f)]
        if zero_median is not None:
            parts.append(t("z ≤ 0 at {pct}% of outputs").format(pct=f"{100 * zero_median[f]:.0f}"))
            if dead_share[f] > DEAD_FILTER_SHARE:
                flags[f] = "dead"
        if sat_median is not None:
            parts.append(t("saturated {pct}%").format(pct=f"{100 * sat_median[f]:.0f}"))
            if sat_median[f] > FILTER_SATURATION_FRACTION:
                flags[f] = flags[f] or "saturated"
        if grad_median is not None:
            parts.append(f"‖∂C/∂W‖ {grad_median[f]:.3g}")
        tips[f] = t("; ").join(parts)
    return tips, flags


# A flagged tile's caption: its number and what the doctor found.
_FLAG_CAPTIONS = {"dead": N_("{f} · dead"), "saturated": N_("{f} · saturated")}


def _caption(f: int, flag: str) -> str:
    return t(_FLAG_CAPTIONS[flag]).format(f=f) if flag else str(f)


# ---------------------------------------------------------------------------------------------
# the section
# ---------------------------------------------------------------------------------------------
def _conv_layers(model: Any) -> list[tuple[str, Any]]:
    """(name, layer) of the model's Conv2D (or Conv1D) layers in order, when its first layer
    with a weight matrix is one; else []."""
    from ..nn.layers import Conv1D, Conv2D, weight_layers

    found = weight_layers(model) if hasattr(model, "named_modules") else []
    if not found or not isinstance(found[0][1], (Conv1D, Conv2D)):
        return []
    kind = type(found[0][1])
    return [(name, layer) for name, layer, _ in found if isinstance(layer, kind)]


def _filters_part(name: str, layer: Any, history: Any, blocks: dict[str, Any] | None = None) -> str:
    W = np.asarray(layer.W.data, dtype=np.float64)  # (rows, cols, channels, filters)
    if W.ndim == 3:  # a Conv1D's (steps, channels, filters): each kernel a strip of one row
        W = W[None]
    rows, cols, channels, filters = W.shape
    limit = _limit(W)
    tips, flags = _filter_notes(history, name, filters, blocks)
    units = []
    for f in range(filters):
        tiles = "".join(
            _img(
                diverging_rgb(W[:, :, c, f], limit),
                f"{name} filter {f} channel {c}",
                filter=f,
                channel=c,
            )
            for c in range(channels)
        )
        flag = flags[f]
        caption = _caption(f, flag)
        css = "gn-unit flagged" if flag else "gn-unit"
        units.append(
            f'<figure class="{css}" title="{html.escape(tips[f])}">{tiles}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    if channels == 1:
        per = t("one tile")
    else:
        per = t("{channels} tiles side by side (input channels 0–{last})").format(
            channels=channels, last=channels - 1
        )
    title = (
        N_("Filters of {name}: {filters} filters of {rows}×{cols} on {channels} input channel")
        if channels == 1
        else N_(
            "Filters of {name}: {filters} filters of {rows}×{cols} on {channels} input channels"
        )
    )
    heading = t(title).format(
        name=f"<code>{html.escape(name)}</code>",
        filters=filters,
        rows=rows,
        cols=cols,
        channels=channels,
    )
    text = t(
        "Filter f is W[:, :, c, f], {per} per filter, numbered from 0. Rows are kernel rows, top "
        "first, as the filter lies over its input (the layer computes a correlation: no 180° "
        "flip). Blue is negative, white 0, red positive, on one scale for the layer (± max |W|). "
        "A filter outlined in orange is one the doctor finds dead or saturated; hover a filter "
        "for its statistics over the last epoch."
    ).format(per=per)
    if layer.W.data.ndim == 3:
        text += " " + t(
            "A Conv1D's filter W[:, c, f] is drawn as a strip of one row, its steps left to "
            "right; its feature maps below are strips too, one per filter."
        )
    intro = f"<h3>{heading}</h3><p>{html.escape(text)}</p>"
    return intro + _scale_bar("diverging", limit) + f'<div class="gn-grid">{"".join(units)}</div>'


def _maps_grid(
    name: str,
    maps: np.ndarray,
    heading: str,
    history: Any = None,
    numbered: bool = True,
    blocks: dict[str, Any] | None = None,
) -> str:
    """One image per channel of a (rows, cols, filters) output, under ``heading`` (HTML); a
    filter the doctor flags (with ``history``) is outlined, as in the filters' grid."""
    signed = bool(np.min(maps) < 0) if maps.size else False
    limit = _limit(maps)
    kind = "diverging" if signed else "grey"
    colour = diverging_rgb if signed else grey_rgb
    n = maps.shape[-1]
    if history is not None:
        tips, flags = _filter_notes(history, name, n, blocks)
    else:
        tips, flags = [""] * n, [""] * n
    tiles = []
    for f in range(n):
        caption = _caption(f, flags[f]) if numbered else ""
        tiles.append(
            f'<figure class="gn-unit{" flagged" if flags[f] else ""}" '
            f'title="{html.escape(tips[f])}">'
            f"{_img(colour(maps[:, :, f], limit), f'{name} map {f}', layer=name, map=f)}"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    grid = f'<div class="gn-grid">{"".join(tiles)}</div>'
    return f"<h3>{heading}</h3>" + _scale_bar(kind, limit) + grid


def _maps_part(
    model: Any,
    convs: list[tuple[str, Any]],
    x: Any,
    history: Any,
    blocks: dict[str, Any] | None = None,
) -> str:
    from ..nn.layers import forcing_inference
    from ..training.fused import forward_arrays, kernel_chain
    from .conv_rules import bn_blocks

    if x is None:
        note = t(
            "No test data was given (report(..., x=x_test, y=y_test)), so no feature maps are "
            "drawn."
        )
        return f'<p class="note">{html.escape(note)}</p>'
    chain = kernel_chain(model)
    if chain is None:
        note = t(
            "Feature maps are drawn for a Sequential or a chain of layers; this model is neither."
        )
        return f'<p class="note">{html.escape(note)}</p>'
    sample = np.asarray(x)[:1]
    intro = t(
        "The first test sample, run through the trained layers in inference mode; each image is "
        "one filter's output a after the layer's activation, one pixel per position, on one "
        "scale per layer."
    )
    parts = [f"<p>{html.escape(intro)}</p>"]
    image = sample[0].astype(np.float64)
    sequence = convs[0][1].W.data.ndim == 3
    if sequence:  # (steps, channels) or (channels, steps): one strip per channel
        steps = image if convs[0][1].data_format == "channels_last" else image.T
        heading = t("The sample ({rows}×{cols})").format(rows=steps.shape[0], cols=steps.shape[1])
        parts.append(_maps_grid("input", steps[None], heading, numbered=False))
    elif image.ndim == 3 and image.shape[-1] in (1, 3) or image.ndim == 2:
        plane = image if image.ndim == 2 else image[..., 0]
        rows, cols = plane.shape
        heading = t("The sample ({rows}×{cols})").format(rows=rows, cols=cols)
        parts.append(_maps_grid("input", plane[:, :, None], heading, numbered=False))
    positions = {id(layer): i for i, layer in enumerate(chain)}
    # a Conv → BN → Activation block's maps are drawn after its activation
    block_end = {
        id(conv): (i + 2, f"{bn.name} → {act.name}") for i, conv, bn, act in bn_blocks(model)
    }
    with forcing_inference():
        for rank, (name, layer) in enumerate(convs[:2]):
            index = positions.get(id(layer))
            if index is None:
                continue
            end, act = block_end.get(id(layer), (index, layer.activation.kernel.name))
            out = forward_arrays(chain[: end + 1], sample)[0]
            if layer.data_format == "channels_first":
                out = np.moveaxis(out, 0, -1)
            if out.ndim == 2:  # a sequence's (steps, filters): strips of one row
                out = out[None]
            which = (
                N_("After {name} (the first convolution, {act}): {n} maps of {rows}×{cols}")
                if rank == 0
                else N_("After {name} (the second convolution, {act}): {n} maps of {rows}×{cols}")
            )
            rows, cols, n = out.shape
            heading = t(which).format(
                name=f"<code>{html.escape(name)}</code>", act=act, n=n, rows=rows, cols=cols
            )
            maps = np.asarray(out, dtype=np.float64)
            parts.append(_maps_grid(name, maps, heading, history, blocks=blocks))
    return "\n".join(parts)


def conv_section(model: Any, history: Any, x: Any = None) -> str | None:
    """The report's section on a model whose first layer with weights is a Conv2D (None for
    any other model): its filters, then one sample's feature maps."""
    convs = _conv_layers(model)
    if not convs:
        return None
    from .conv_rules import probe_blocks

    blocks = probe_blocks(model, x) if x is not None else {}
    name, first = convs[0]
    return (
        _filters_part(name, first, history, blocks)
        + "\n"
        + _maps_part(model, convs, x, history, blocks)
    )
