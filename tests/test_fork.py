"""Forking after glassnet has run: predict in the child must work (issue 14, item 1).

gunicorn, multiprocessing and joblib start their workers by forking a process that has loaded
(and often already used) a model. Only the forking thread exists in the child, so a pool whose
threads were started in the parent has no threads there: predict used to wait for ever on its
first batch. Each scenario runs in a subprocess that forks and waits for its child with a
deadline, so a hang fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CHILD_DEADLINE = 60  # seconds a child may take before it counts as hung
SKIP = 77

PRELUDE = textwrap.dedent("""
    import os, sys, threading, time
    import numpy as np
    import glassnet as gn
    from glassnet import _threads

    if _threads.inference_workers() < 2:
        sys.exit(77)  # predict uses its pool only with two or more CPUs

    gn.seed(0)
    model = gn.Sequential([gn.layers.Dense(64, activation="relu", input_dim=20),
                           gn.layers.Dropout(0.2), gn.layers.Dense(5, activation="softmax")])
    x = np.random.default_rng(0).normal(size=(1000, 20)).astype(np.float32)
    expected = model.predict(x, batch_size=50)  # the parent's pool threads are running now

    def blas_count():
        for lib in _threads._blas_libraries():
            return lib.get()
        return None

    def fork_and_check(check, deadline):
        # The child runs check() and exits 0 when it returns True, 3 when it returns False,
        # 4 when it raises; a child still running at the deadline is killed: exit code 2.
        pid = os.fork()
        if pid == 0:
            try:
                code = 0 if check() else 3
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 4
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        end = time.monotonic() + deadline
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > end:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print("child hung", file=sys.stderr)
                return 2
            time.sleep(0.02)
""")


def _run(body: str) -> subprocess.CompletedProcess:
    script = (PRELUDE + textwrap.dedent(body)).replace("DEADLINE", str(CHILD_DEADLINE))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    if proc.returncode == SKIP:
        pytest.skip("predict's pool is used only with two or more CPUs")
    return proc


def test_predict_in_a_forked_child_after_predict_in_the_parent():
    proc = _run(f"""
        code = fork_and_check(lambda: np.array_equal(model.predict(x, batch_size=50), expected),
                              {CHILD_DEADLINE})
        # The parent's pool still serves the parent.
        assert np.array_equal(model.predict(x, batch_size=50), expected)
        sys.exit(code)
    """)
    assert proc.returncode == 0, f"exit {proc.returncode} (2: hung)\n{proc.stderr}"


def test_fit_and_predict_in_a_forked_child_after_fit_in_the_parent():
    proc = _run(f"""
        y = np.random.default_rng(1).integers(0, 5, len(x))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        expected = model.predict(x, batch_size=50)

        def child():
            same = np.array_equal(model.predict(x, batch_size=50), expected)
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)
            return same and np.isfinite(model.predict(x, batch_size=50)).all()

        sys.exit(fork_and_check(child, {CHILD_DEADLINE}))
    """)
    assert proc.returncode == 0, f"exit {proc.returncode} (2: hung)\n{proc.stderr}"


def test_fork_while_other_threads_are_predicting():
    # The parent's threads are inside predict (pool busy, locks possibly held, BLAS limited)
    # at the moment of each fork; the child has none of those threads and must not depend on
    # them — and its BLAS count is its own again.
    proc = _run(f"""
        before = blas_count()
        stop = threading.Event()
        wrong = []

        def serve():
            while not stop.is_set():
                if not np.array_equal(model.predict(x, batch_size=50), expected):
                    wrong.append(1)

        servers = [threading.Thread(target=serve) for _ in range(4)]
        for t in servers:
            t.start()

        def child():
            restored = blas_count() == before
            same = np.array_equal(model.predict(x, batch_size=50), expected)
            return restored and same and blas_count() == before

        codes = []
        for _ in range(8):
            time.sleep(0.01)
            codes.append(fork_and_check(child, {CHILD_DEADLINE}))
        stop.set()
        for t in servers:
            t.join(60)
        print(codes, wrong, file=sys.stderr)
        sys.exit(max(codes) or (5 if wrong else 0))
    """)
    assert proc.returncode == 0, f"exit {proc.returncode} (2: hung, 3: wrong)\n{proc.stderr}"


def test_a_multiprocessing_fork_pool_serves_predict():
    proc = _run("""
        import multiprocessing as mp

        def work(i):
            return model.predict(x[i * 100 : (i + 1) * 100], batch_size=10)

        with mp.get_context("fork").Pool(2) as pool:
            parts = pool.map_async(work, range(10)).get(DEADLINE)
        want = [model.predict(x[i * 100 : (i + 1) * 100], batch_size=10) for i in range(10)]
        sys.exit(0 if all(np.array_equal(a, b) for a, b in zip(parts, want)) else 3)
    """)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"


def test_a_fork_while_the_helper_engine_is_being_built_leaves_the_child_free_to_build_it():
    # Regression: the child inherited the engine lock held by another thread of the parent
    # (the one building the engine) and its first fit waited on it for ever.
    proc = _run(f"""
        from glassnet.training import parallel

        parallel._engine_lock.acquire()  # as if another thread were building the engine
        code = fork_and_check(lambda: (parallel.get_engine(), True)[1], {CHILD_DEADLINE})
        parallel._engine_lock.release()
        sys.exit(code)
    """)
    assert proc.returncode == 0, f"exit {proc.returncode} (2: hung)\n{proc.stderr}"
