"""Parameter initialisation that keeps big circuits moving.

The reference code draws every parameter from Kaiming normal over the edge dimension,
sigma = sqrt(2/E). A node with d devices then feels a net current whose sensitivity to the voltages
is about sqrt(d) * sigma = sqrt(2 d / E): with 230k devices and d of a few hundred that is ~0.05, so
a big circuit starts almost static and learns slowly.

We normalise by degree instead: every current-scaling parameter of device e (slopes, biases,
current scales) is drawn from N(0, gain^2 / d_e), d_e being the mean number of devices at e's
non-ground end nodes. A node's net current and its Jacobian row then have unit-order spread for any
circuit size. Thresholds (volt shifts) are drawn from N(0, 0.5^2) and positive slopes (the passive
``TanhResistor``'s) from U(0.5, 2) so it starts as a real resistor. Which parameter plays which role
is part of each family's record (``devices.DeviceKind.roles``).
"""

from __future__ import annotations

import numpy as np

from .circuit import Circuit, Slice
from .devices import KINDS, MAX_PARAMS

def device_degrees(s: Slice, width: int) -> np.ndarray:
    """Mean device count at each device's non-ground end nodes (at least 1)."""
    deg = np.bincount(s.src, minlength=width + 1) + np.bincount(s.dst, minlength=width + 1)
    ds, dd = deg[s.src].astype(float), deg[s.dst].astype(float)
    ds[s.src == 0] = np.nan
    dd[s.dst == 0] = np.nan
    return np.maximum(np.nan_to_num(np.nanmean(np.stack([ds, dd]), axis=0), nan=1.0), 1.0)


def init_slice_params(s: Slice, width: int, gain: float = 1.0,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Fresh (E, MAX_PARAMS) parameters for one slice (see the module docstring)."""
    rng = np.random.default_rng() if rng is None else rng
    E = s.num_devices
    sigma = gain / np.sqrt(device_degrees(s, width)) if E else np.zeros(0)
    params = np.zeros((E, MAX_PARAMS))
    normal = rng.standard_normal((E, MAX_PARAMS))
    uniform = rng.uniform(0.5, 2.0, (E, MAX_PARAMS))
    for kind in set(s.kind.tolist()):  # each family's parameter roles (devices.ROLES)
        rows = np.flatnonzero(s.kind == kind)
        for c, role in enumerate(KINDS[kind].roles):
            if role == "scale":
                params[rows, c] = sigma[rows] * normal[rows, c]
            elif role == "threshold":
                params[rows, c] = 0.5 * normal[rows, c]
            else:
                params[rows, c] = uniform[rows, c]
    return params


def init_circuit(circuit: Circuit, gain: float = 1.0, seed: int | None = 0) -> Circuit:
    """Re-draw every slice's parameters in place (seeded) and return the circuit."""
    rng = np.random.default_rng(seed)
    for i, s in enumerate(circuit.slices):
        s.params = init_slice_params(s, circuit.width(i), gain, rng)
    return circuit
