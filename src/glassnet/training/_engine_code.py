# mypy: disable-error-code="call-arg"
# (numba intrinsics take the typing context first in their definition, not in calls)
"""The helper thread's compiled code (numba), written so that numba can cache it on disk.

Imported only when ``parallel._build`` builds the engine (numba is imported here). The BLAS
product and ``sched_yield`` are called through addresses passed in at run time (``fns``: an
int64 array [cblas_sgemm, sched_yield]) rather than through ctypes objects, whose addresses
numba would bake into the machine code: so the code does not depend on where this process
loaded the libraries, and the second process onwards loads it from the cache instead of
compiling it again (2.2–2.4 s a process before).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..optim import accelerated

_GEMM, _SCALE, _ADAM = 1, 2, 3
_ROW_MAJOR = 101
_IDLE, _POSTED, _TAKEN, _DONE, _CANCELLED = 0, 1, 2, 3, 4

ADAM = accelerated._compile()  # the one-pass Adam kernel (itself cached on disk)


def _element(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


@intrinsic  # type: ignore[misc]
def compare_and_swap(typingctx: Any, arr: Any, index: Any, expected: Any, new: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = _element(context, builder, signature, args)
        old = builder.cmpxchg(ptr, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(old, 0)

    return types.int64(arr, index, expected, new), codegen


@intrinsic  # type: ignore[misc]
def load_acquire(typingctx: Any, arr: Any, index: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.load_atomic(_element(context, builder, signature, args), "acquire", 8)

    return types.int64(arr, index), codegen


@intrinsic  # type: ignore[misc]
def store_release(typingctx: Any, arr: Any, index: Any, value: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        builder.store_atomic(args[2], _element(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return types.void(arr, index, value), codegen


@intrinsic  # type: ignore[misc]
def u8_pointer(typingctx: Any, address: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return types.CPointer(types.uint8)(address), codegen


@intrinsic  # type: ignore[misc]
def f32_pointer(typingctx: Any, address: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float32)))

    return types.CPointer(types.float32)(address), codegen


@intrinsic  # type: ignore[misc]
def call_sgemm(typingctx: Any, fns: Any, t: Any, alpha: Any, beta: Any) -> Any:
    """cblas_sgemm (64-bit integers) at fns[0] with the arguments of a GEMM task row t:
    the call ctypes made, with the integers and addresses as int64 and the flags as int32."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
        fnty = ir.FunctionType(
            ir.VoidType(), [i32, i32, i32, i64, i64, i64, f32, i64, i64, i64, i64, f32, i64, i64]
        )
        fns_ty, row_ty = signature.args[0], signature.args[1]
        fns_ary = context.make_array(fns_ty)(context, builder, args[0])
        row_ary = context.make_array(row_ty)(context, builder, args[1])

        def item(ty: Any, ary: Any, k: int) -> Any:
            index = context.get_constant(types.intp, k)
            return builder.load(cgutils.get_item_pointer(context, builder, ty, ary, [index]))

        fn = builder.inttoptr(item(fns_ty, fns_ary, 0), fnty.as_pointer())
        r = [item(row_ty, row_ary, k) for k in range(12)]
        flags = [builder.trunc(v, i32) for v in (r[1], r[2])]
        builder.call(
            fn,
            [
                ir.Constant(i32, _ROW_MAJOR),
                *flags,
                r[3],
                r[4],
                r[9],
                args[2],
                r[5],
                r[6],
                r[7],
                r[8],
                args[3],
                r[10],
                r[11],
            ],  # fmt: skip
        )
        return context.get_dummy_value()

    return types.void(fns, t, alpha, beta), codegen


@intrinsic  # type: ignore[misc]
def call_yield(typingctx: Any, fns: Any) -> Any:
    """sched_yield() at fns[1]."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fns_ty = signature.args[0]
        ary = context.make_array(fns_ty)(context, builder, args[0])
        index = context.get_constant(types.intp, 1)
        address = builder.load(cgutils.get_item_pointer(context, builder, fns_ty, ary, [index]))
        fnty = ir.FunctionType(ir.IntType(32), [])
        builder.call(builder.inttoptr(address, fnty.as_pointer()), [])
        return context.get_dummy_value()

    return types.void(fns), codegen


_jit = numba.njit(cache=True, nogil=True)


@_jit  # type: ignore[misc]
def scale_block(
    rows: int,
    cols: int,
    src_address: int,
    src_stride: int,
    dst_address: int,
    dst_stride: int,
    has_offset: int,
    scale: Any,
    offset: Any,
) -> None:
    # float32(pixel)·scale (+ offset): the operations of np.multiply(x, scale, dtype=float32)
    # and then += offset, one rounding each. Plain locals and 2-D views let LLVM vectorise.
    src = numba.carray(u8_pointer(src_address), (rows, src_stride))
    dst = numba.carray(f32_pointer(dst_address), (rows, dst_stride))
    for r in range(rows):
        s, d = src[r], dst[r]
        if has_offset:
            for j in range(cols):
                d[j] = np.float32(s[j]) * scale + offset
        else:
            for j in range(cols):
                d[j] = np.float32(s[j]) * scale


@_jit  # type: ignore[misc]
def run(tasks: Any, consts: Any, count: int, fns: Any) -> None:
    """Both threads run their task rows with this one function."""
    for i in range(count):
        t = tasks[i]
        if t[0] == _GEMM:
            call_sgemm(fns, t, np.float32(1.0), np.float32(0.0))
        elif t[0] == _SCALE:
            scale_block(t[1], t[2], t[3], t[4], t[5], t[6], t[7], consts[i, 0], consts[i, 1])
        elif t[0] == _ADAM:
            n = t[5]
            c = consts[i]
            ADAM(numba.carray(f32_pointer(t[1]), (n,)), numba.carray(f32_pointer(t[2]), (n,)),
                 numba.carray(f32_pointer(t[3]), (n,)), numba.carray(f32_pointer(t[4]), (n,)),
                 c[0], c[1], c[2], c[3], c[4], c[5], c[6])  # fmt: skip


@_jit  # type: ignore[misc]
def serve(ctl: Any, tasks: Any, consts: Any, flushing: int, idle_polls: int, fns: Any) -> int:
    """The helper's loop: 0 after idle_polls polls without work, 1 to change flush mode."""
    idle = 0
    while idle < idle_polls:
        if load_acquire(ctl, 0) == _POSTED:
            if ctl[2] != flushing:
                return 1
            if compare_and_swap(ctl, 0, _POSTED, _TAKEN) == _POSTED:
                run(tasks, consts, ctl[1], fns)
                store_release(ctl, 0, _DONE)
                idle = 0
                continue
        idle += 1
        call_yield(fns)
    return 0


@_jit  # type: ignore[misc]
def post(ctl: Any, count: int, flushing: int) -> None:
    ctl[1] = count
    ctl[2] = flushing
    store_release(ctl, 0, _POSTED)


@_jit  # type: ignore[misc]
def settle(ctl: Any, take_back: bool, fns: Any) -> int:
    """1 if the caller took the posted tasks back, 0 once the helper has finished them."""
    if take_back and compare_and_swap(ctl, 0, _POSTED, _CANCELLED) == _POSTED:
        return 1
    while load_acquire(ctl, 0) != _DONE:
        call_yield(fns)
    return 0


# Loads and saves of numba's disk cache under a lock (see accelerated._cache_safely).
for _dispatcher in (scale_block, run, serve, post, settle):
    accelerated._cache_safely(_dispatcher)
