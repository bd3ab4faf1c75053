"""Optuna TPE through Ray Tune's ``OptunaSearch``, numbering trials and warm-started on resume.

The searcher is also usable without a running Ray (``suggest`` / ``on_trial_complete``), which is
how the serial runner drives it. Seeded by the sweep's seed: with one trial at a time the whole
sequence of proposals repeats; with several at once, the proposals depend on which results came
back first (TPE's first ``n_startup_trials`` random proposals repeat either way).
"""

from __future__ import annotations

from typing import Any, Sequence

from .records import TrialRecord
from .space import SearchSpace, label
from .spec import SweepSpec


def _distributions(space: SearchSpace) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Optuna distributions per dimension and, for list-valued choices, label -> value maps."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists: dict[str, Any] = {}
    decode: dict[str, dict[str, Any]] = {}
    for name, d in space.dimensions.items():
        if not d.discrete:
            cls = IntDistribution if d.integer else FloatDistribution
            low, high = (int(d.low), int(d.high)) if d.integer else (d.low, d.high)
            dists[name] = cls(low, high, log=d.log)
            continue
        values = d.grid_values()
        if any(isinstance(v, tuple) for v in values):
            decode[name] = {label(v): v for v in values}
            values = list(decode[name])
        dists[name] = CategoricalDistribution(values)
    return dists, decode


def make_optuna_searcher(spec: SweepSpec, free_indices: Sequence[int], history: Sequence[TrialRecord] = ()):
    """A Ray Tune searcher proposing ``{"trial": {"index", "params"}}`` for the given trial numbers,
    with the trials already done (``history``) told to the study first."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per study / trial
    dists, decode = _distributions(spec.space)

    def encode(params: dict[str, Any]) -> dict[str, Any]:
        return {k: label(v) if k in decode else v for k, v in params.items() if k in dists}

    class SweepOptuna(OptunaSearch):
        """OptunaSearch that hands out our trial numbers and decodes list-valued choices."""

        def __init__(self) -> None:
            super().__init__(space=dists, metric="objective", mode=spec.mode, seed=spec.seed)
            self._free = list(free_indices)
            self._numbers: dict[str, int] = {}
            for t in history:
                failed = t.state == "failed" or t.objective is None
                self.add_evaluated_point(encode(t.params), None if failed else float(t.objective), error=failed)

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            if trial_id not in self._numbers:
                if not self._free:
                    return None
                self._numbers[trial_id] = self._free.pop(0)
            raw = super().suggest(trial_id)
            params = {k: decode[k][v] if k in decode else v for k, v in raw.items()}
            return {"trial": {"index": self._numbers[trial_id], "params": params}}

    return SweepOptuna()
