"""KirchhoffNet core: circuits, devices, the ODE model, solvers, data, training and file formats.

A plain Python library (no UI): ``Circuit`` -> ``KirchhoffNet`` -> trajectories / read-out / chip /
SPICE. What the README's examples use is importable from here; everything else lives in the
submodules (``kirchhoff_core.analysis``, ``.editing``, ``.flow_analysis``, ...).
"""

from .chip import ChipConfig, ChipInstance, monte_carlo, robustness_curve
from .chip import energy as chip_energy
from .circuit import Circuit, CircuitError, Slice, make_slice
from .datasets import DATASETS, Dataset, make_dataset
from .densities import POTENTIALS, TARGETS, sample_target
from .devices import KINDS, Activation, DeviceKind, register_kind, unregister_kind
from .generative import (FLOW_PRESETS, CircuitFlow, GenerativeConfig, GenerativeTrainer, flow_preset,
                         load_pretrained)
from .generators import GENERATORS, generate
from .io import TrainingRecord, load_circuit, load_trained, save_circuit
from .model import KirchhoffNet
from .presets import build_circuit, preset_for
from .solvers import SolverConfig, SolverError
from .spice import SpiceOptions
from .spice import compare as spice_compare
from .target_density import target_entropy, target_log_density
from .train import TrainConfig, Trainer
from .trajectories import compute_trajectory, metric_vs_readout_time

__version__ = "0.1.0"

__all__ = [
    # circuits and devices
    "Circuit", "CircuitError", "Slice", "make_slice", "GENERATORS", "generate", "KINDS", "Activation", "DeviceKind",
    "register_kind", "unregister_kind",
    # data, model, training, files
    "DATASETS", "Dataset", "make_dataset", "preset_for", "build_circuit", "KirchhoffNet", "SolverConfig",
    "SolverError", "TrainConfig", "Trainer", "TrainingRecord", "save_circuit", "load_circuit", "load_trained",
    # generative circuits
    "TARGETS", "POTENTIALS", "sample_target", "target_entropy", "target_log_density", "FLOW_PRESETS", "flow_preset",
    "CircuitFlow", "GenerativeConfig", "GenerativeTrainer", "load_pretrained",
    # what the circuit does over time, on a chip and in SPICE
    "compute_trajectory", "metric_vs_readout_time", "ChipConfig", "ChipInstance", "monte_carlo", "robustness_curve",
    "chip_energy", "SpiceOptions", "spice_compare",
    "__version__",
]
