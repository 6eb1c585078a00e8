"""Registry of search algorithms, built from the search space's ``search`` section.

- ``random``: Tune's basic variant generator, seeded with the space's ``seed`` (each of
  ``num_samples`` trials draws every searched parameter).
- ``grid``: the same generator over the product of the categorical choices, ``num_samples``
  times (every searched parameter must be categorical).
- ``optuna``: Optuna's TPE sampler (seeded), at most ``max_concurrent`` trials at a time; a local
  experiment's study is stored in ``optuna.db`` in its folder (:mod:`tune_bs.search.tracking`).

Each is built as a search algorithm that signs the experiment's state files as Tune saves them
(:mod:`tune_bs.search.signed_search`), so ``tune-bs resume`` can check them.

Each algorithm declares its options once, as a dataclass (:mod:`tune_bs.options`), in its entry
of :data:`SEARCH_ALGORITHMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from tune_bs.options import NoOptions, option


@dataclass(frozen=True)
class OptunaOptions:
    max_concurrent: int = option(2, minimum=1, doc="trials Optuna runs at a time")


class SearchAlgorithm(NamedTuple):
    """A registry entry: the options and what builds the Tune search algorithm from the search
    space, the experiment's folder and its name."""

    Options: type
    build: Callable[[Any, Path | str | None, str | None], Any]


def _basic_variants(space: Any, experiment_dir: Path | str | None, experiment: str | None) -> Any:
    from tune_bs.search.signed_search import SignedBasicVariantGenerator

    return SignedBasicVariantGenerator(random_state=space.seed, constant_grid_search=True)


def _optuna(space: Any, experiment_dir: Path | str | None, experiment: str | None) -> Any:
    import optuna
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from tune_bs.search.signed_search import SignedSearchGenerator

    storage = None
    if isinstance(experiment_dir, Path):
        from tune_bs.search.tracking import optuna_storage_uri

        storage = optuna.storages.RDBStorage(optuna_storage_uri(experiment_dir))
    searcher = OptunaSearch(
        sampler=optuna.samplers.TPESampler(seed=space.seed),
        storage=storage,
        study_name=experiment,
    )
    options = OptunaOptions(**{k: v for k, v in space.search.items() if k != "name"})
    return SignedSearchGenerator(ConcurrencyLimiter(searcher, int(options.max_concurrent)))


#: The search algorithms a search space may name (``search.name``), each with its options.
SEARCH_ALGORITHMS: dict[str, SearchAlgorithm] = {
    "random": SearchAlgorithm(NoOptions, _basic_variants),
    "grid": SearchAlgorithm(NoOptions, _basic_variants),
    "optuna": SearchAlgorithm(OptunaOptions, _optuna),
}
