from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def digits():
    """UCI digits scaled to [0, 1]: (x_train, y_train, x_test, y_test)."""
    (x, y), (xt, yt) = gn.datasets.load("digits")
    return (x / 16.0).astype(np.float32), y, (xt / 16.0).astype(np.float32), yt
