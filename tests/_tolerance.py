"""How close two results must be when they need not be the same bits.

Bit-for-bit equality is promised only where the same operations run in the same order: a seeded
rerun, a resumed run, a compiled elementwise kernel against its NumPy twin on the same arrays,
the same BLAS call made by another thread. Two *different* BLAS calls — other shapes (a batch
of 8 against one of 53), another entry point (``np.dot``, ``np.matmul``, a direct
``cblas_sgemm``), a product split in two, another kernel picked for the CPU
(``OPENBLAS_CORETYPE``), another thread count — may add the K terms of each dot product in
another order, and each order rounds differently. Each of the K additions rounds once, so two
orders differ by at most about 2·K·u·Σ|terms| (u the unit roundoff); with the terms of one
sign that is K·u relative, and in practice the error grows like √K, not K.

So the tolerance below is a few ulps of the dtype times the length of the reduction (K), with
a floor of 1e-12 relative in float64, and an absolute part of the same size relative to the
array's largest element (a sum that cancels to nearly zero keeps the absolute error of its
large terms). Results that go on through a nonlinearity or more layers pass the error along
with factors of order one; training runs compound it step by step, and their tests say how.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["rtol", "assert_close"]

ULPS = 4  # "a few ulps": the slack per reduction element
FLOAT64_FLOOR = 1e-12


def rtol(dtype: Any, reduction: int = 1, ulps: float = ULPS) -> float:
    """Relative tolerance for results of ``dtype`` whose elements each sum ``reduction`` terms.

    float32: ulps · eps · reduction (eps = 2⁻²³ ≈ 1.19e-7); float64: the same, at least 1e-12.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"rtol: a floating dtype is expected, received {dtype}")
    tol = float(ulps * np.finfo(dtype).eps * max(1, int(reduction)))
    if dtype == np.float64:
        tol = max(tol, FLOAT64_FLOOR)
    return tol


def assert_close(
    actual: Any,
    expected: Any,
    *,
    reduction: int = 1,
    ulps: float = ULPS,
    scale: float | None = None,
    err_msg: str = "",
) -> None:
    """``actual`` equals ``expected`` to ``rtol(dtype, reduction, ulps)``: same shape and dtype,
    NaN where NaN, and each element within rtol·|expected| + rtol·scale, where scale defaults
    to the largest finite |expected| of the array."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{err_msg} shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{err_msg} dtype {actual.dtype} != {expected.dtype}"
    tol = rtol(expected.dtype, reduction, ulps)
    if scale is None:
        finite = np.abs(expected[np.isfinite(expected)])
        scale = float(finite.max()) if finite.size else 0.0
    np.testing.assert_allclose(
        actual, expected, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=err_msg
    )
