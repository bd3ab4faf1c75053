"""Hyperparameter sweeps: many training runs of one set-up, compared by one objective.

A ``SweepSpec`` (search space, search, budget, objective) runs on Ray Tune (``run_sweep``: in-process
by default, a cluster by address; grid, random or Optuna TPE; ASHA early stopping) or serially
(``run_serial``); each trial (``run_trial``) trains through the same ``Trainer`` the Train page
uses and writes its folder as it goes, so ``load_sweep`` reads a running, interrupted or finished
sweep, a sweep resumes where it stopped, and ``load_trial`` gives one trial's circuit and settings.
``SweepProcess`` runs a sweep in a background process for a page; ``PRESETS`` are the teaching
sweeps.
"""

from .background import SweepProcess
from .export import sweep_archive
from .presets import PRESETS, SweepPreset, preset_of, preset_spec
from .records import LoadedTrial, SweepState, TrialRecord, load_sweep, load_trial, read_spec
from .runner import ClusterError, check_space, default_workers, run_serial, run_sweep
from .space import Dimension, Hyper, SearchSpace, SweepError, hyperparameters, load_space_file
from .spec import MAX_TRIALS, OBJECTIVES, SEARCHES, SweepSpec
from .trial import TrialFailed, run_trial, train_command, trial_settings

__all__ = ["ClusterError", "Dimension", "Hyper", "LoadedTrial", "MAX_TRIALS", "OBJECTIVES", "PRESETS", "SEARCHES",
           "SearchSpace", "SweepError", "SweepPreset", "SweepProcess", "SweepSpec", "SweepState", "TrialFailed",
           "TrialRecord", "check_space", "default_workers", "hyperparameters", "load_space_file", "load_sweep",
           "load_trial", "preset_of", "preset_spec", "read_spec", "run_serial", "run_sweep", "run_trial",
           "sweep_archive", "train_command", "trial_settings"]
