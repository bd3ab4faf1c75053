"""KirchhoffNet core: circuits, devices, the ODE model, solvers, data, training and file formats.

A plain Python library (no UI): ``Circuit`` -> ``KirchhoffNet`` -> trajectories / read-out.
"""

from .circuit import Circuit, CircuitError, Slice, make_slice
from .datasets import Dataset, make_dataset
from .devices import KINDS
from .generators import GENERATORS, generate
from .io import load_circuit, save_circuit
from .model import KirchhoffNet
from .solvers import SolverConfig, SolverError
from .train import TrainConfig, Trainer

__version__ = "0.1.0"

__all__ = ["Circuit", "CircuitError", "Dataset", "GENERATORS", "KINDS", "KirchhoffNet", "Slice", "SolverConfig",
           "SolverError", "TrainConfig", "Trainer", "generate", "load_circuit", "make_dataset", "make_slice",
           "save_circuit", "__version__"]
