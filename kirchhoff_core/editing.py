"""Edits a user makes to a circuit: each returns a new, validated circuit and never changes the
original, so a rejected edit (in the app's device table, say) leaves the previous circuit intact."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .circuit import Circuit, CircuitError, Slice
from .devices import MAX_PARAMS


def set_devices(circuit: Circuit, slice_index: int, devices: Iterable[dict]) -> Circuit:
    """Replace one slice's devices with ``{src, dst, kind, params}`` records."""
    c = circuit.copy()
    old = c.slices[_check_slice(c, slice_index)]
    c.slices[slice_index] = Slice.from_devices(old.duration, list(devices), old.num_nodes,
                                               where=f"slices[{slice_index}]")
    return c.validate()


def add_slice(circuit: Circuit, duration: float = 1.0, copy_previous: bool = True) -> Circuit:
    """Append a time slice: a copy of the last slice's devices and parameters, or empty."""
    c = circuit.copy()
    last = c.slices[-1]
    new = last.copy() if copy_previous else Slice(float(duration), [], [], [], np.zeros((0, MAX_PARAMS)),
                                                  last.num_nodes)
    new.duration = float(duration)
    c.slices.append(new)
    return c.validate()


def copy_previous_topology(circuit: Circuit, slice_index: int) -> Circuit:
    """Give slice i the devices (and parameters) of slice i-1, keeping its own duration."""
    c = circuit.copy()
    if not 1 <= slice_index < len(c.slices):
        raise CircuitError(f"slice_index: slice {slice_index} has no previous slice")
    new = c.slices[slice_index - 1].copy()
    new.duration = c.slices[slice_index].duration
    c.slices[slice_index] = new
    return c.validate()


def remove_slice(circuit: Circuit, slice_index: int) -> Circuit:
    c = circuit.copy()
    if len(c.slices) == 1:
        raise CircuitError("slices: a circuit needs at least one time slice")
    del c.slices[_check_slice(c, slice_index)]
    return c.validate()


def set_durations(circuit: Circuit, durations: list[float]) -> Circuit:
    c = circuit.copy()
    if len(durations) != len(c.slices):
        raise CircuitError(f"durations: need {len(c.slices)} values, got {len(durations)}")
    for s, d in zip(c.slices, durations):
        s.duration = float(d)
    return c.validate()


def add_node(circuit: Circuit) -> Circuit:
    """One more node (in every slice that uses the circuit's width)."""
    c = circuit.copy()
    c.num_nodes += 1
    if isinstance(c.capacitance, list):
        c.capacitance = c.capacitance + [c.capacitance[-1]]
    return c.validate()


def remove_node(circuit: Circuit, node: int) -> Circuit:
    """Delete a node, its devices and its input/read-out role; higher nodes shift down by one."""
    c = circuit.copy()
    if not 1 <= node <= c.num_nodes:
        raise CircuitError(f"node: {node} does not exist (nodes 1..{c.num_nodes})")
    if any(s.num_nodes not in (None, c.num_nodes) for s in c.slices):
        raise CircuitError("remove_node: only for circuits whose slices all have the same width")
    for s in c.slices:
        keep = (s.src != node) & (s.dst != node)
        s.src, s.dst, s.kind, s.params = s.src[keep], s.dst[keep], s.kind[keep], s.params[keep]
        s.src = np.where(s.src > node, s.src - 1, s.src)
        s.dst = np.where(s.dst > node, s.dst - 1, s.dst)
    c.inputs = [n - (n > node) for n in c.inputs if n != node]
    c.outputs = [n - (n > node) for n in c.outputs if n != node]
    if isinstance(c.capacitance, list):
        c.capacitance = c.capacitance[: node - 1] + c.capacitance[node:]
    c.num_nodes -= 1
    return c.validate()


def set_roles(circuit: Circuit, inputs: list[int], outputs: list[int]) -> Circuit:
    """Choose which nodes take the input voltages and which are read out."""
    c = circuit.copy()
    c.inputs, c.outputs = [int(n) for n in inputs], [int(n) for n in outputs]
    return c.validate()


def _check_slice(c: Circuit, i: int) -> int:
    if not 0 <= i < len(c.slices):
        raise CircuitError(f"slice_index: slice {i} does not exist ({len(c.slices)} slice(s))")
    return i
