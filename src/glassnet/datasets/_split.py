"""Stratified train/test splitting shared by the generated data sets."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(train, test)``; test holds ``round(test_fraction · n_k)`` of class k.

    Each class keeps at least one sample on each side when it has two or more. Both index
    arrays come back in a random order drawn from ``rng`` so neither side is sorted by class.
    """
    train_parts: list[np.ndarray] = []
    test_parts: list[np.ndarray] = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        members = members[rng.permutation(len(members))]
        n_test = int(round(test_fraction * len(members)))
        if len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = np.concatenate(train_parts)
    test = np.concatenate(test_parts)
    return train[rng.permutation(len(train))], test[rng.permutation(len(test))]
