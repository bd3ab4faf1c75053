"""Learn page: plug an input's voltages into a node's current law. Pick a test sample (or type the input
voltages) and a time t; the core gives the node voltages at t (``trajectories.slice_voltages``) and each
device's current there (``analysis.node_balance``: ``KirchhoffNet.currents`` and ``kcl_residual``), and
the currents in minus the currents out come to C dv/dt."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from components.common import dataset
from kirchhoff_core.analysis import node_balance
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig, SolverError
from kirchhoff_core.trajectories import slice_voltages
from state import Session, bound
from views import learn_views as lv

SOLVER = SolverConfig(rtol=1e-9, atol=1e-9, max_nfe=20_000, timeout_s=20.0)  # float64: KCL holds to ~1e-12


def _input(session: Session, circuit: Circuit, column) -> np.ndarray | None:
    choice, n = session.learn, len(circuit.inputs)
    data = dataset(session, session.learn_messages)
    ways = ["test sample", "typed voltages"] if data is not None and data.n_features == n else ["typed voltages"]
    with column:
        how = bound(st.radio, "Input", ways, key="learn_how", value=ways[-1] if choice.typed else ways[0],
                    horizontal=True, on_set=lambda v: setattr(choice, "typed", v == "typed voltages"))
        if how == "test sample":
            i = bound(st.number_input, f"Test sample (0–{len(data.x_test) - 1})", 0, len(data.x_test) - 1,
                      key="learn_sample", value=min(choice.sample, len(data.x_test) - 1),
                      on_set=lambda v: setattr(choice, "sample", int(v)))
            x = np.asarray(data.x_test[int(i)], dtype=float)
            st.caption(f"{data.name} test point {int(i)}: " + ", ".join(f"{v:.3f}" for v in x[:8])
                       + (" …" if n > 8 else "") + " V on the input nodes")
            return x
        text = bound(st.text_input, f"Input voltages ({n}, comma-separated)", key="learn_typed",
                     value=choice.voltages or ", ".join(["0.5"] * n), on_set=lambda v: setattr(choice, "voltages", v))
        try:
            return np.array([float(t) for t in text.split(",") if t.strip()])
        except ValueError:
            st.error("Input voltages: write numbers separated by commas, e.g. 0.5, -1.")
            return None


def plug_in(session: Session, circuit: Circuit, slice_index: int, node: int) -> None:
    """The node's current law with the numbers of one input at one time."""
    choice = session.learn
    st.markdown(f"**Plug in an input.** Charge the input nodes, let the circuit run to a time $t$, and read every "
                f"device current at node {node}: the currents flowing in minus those flowing out are exactly "
                f"$C\\,dv_{{{node}}}/dt$, how fast the node's voltage moves at that moment.")
    t0, t1 = sum(circuit.durations[:slice_index]), sum(circuit.durations[: slice_index + 1])
    left, right = st.columns([2, 1])
    x = _input(session, circuit, left)
    with right:
        t = bound(st.slider, f"Time t (slice {slice_index}: {t0:g} to {t1:g})", float(t0), float(t1), key="learn_t",
                  value=float(min(max(choice.t if choice.t is not None else t0, t0), t1)),
                  on_set=lambda v: setattr(choice, "t", float(v)), step=(t1 - t0) / 40 or None)
    if x is None:
        return
    if slice_index > 0 and t <= t0:
        t = t0 + (t1 - t0) / 40  # a later slice starts just after the earlier one ends
        st.caption(f"t = {t0:g} is the end of slice {slice_index - 1}; showing slice {slice_index} at t = {t:.3g}.")
    key = (circuit.fingerprint(), slice_index, node, tuple(np.round(x, 12)), t)
    try:
        balance = session.learn_memo.get(key, lambda: _balance(circuit, x, t, slice_index, node))
    except (ValueError, SolverError) as e:
        st.error(f"Could not plug the input in: {e}")
        return
    st.latex(lv.balance_latex(balance))
    m = st.columns(4)
    into, out = balance.currents[balance.signs > 0].sum(), balance.currents[balance.signs < 0].sum()
    m[0].metric(f"v{node}({t:.3g})", f"{balance.voltages[node - 1]:+.4f} V")
    m[1].metric("Σ currents in", f"{into:+.4g}", help="devices whose dst is this node (current src → dst)")
    m[2].metric("Σ currents out", f"{out:+.4g}", help="devices whose src is this node")
    m[3].metric(f"C dv{node}/dt", f"{balance.c_dvdt:+.4g}",
                help="from the right-hand side the solver integrates; equals in − out (the difference, the model's "
                     f"kcl_residual, is {balance.residual:.1e})")
    st.dataframe(lv.balance_rows(circuit, slice_index, balance), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.4f") for c in
                                ("v_from (V)", "v_to (V)", "current I", "adds to the node")})
    st.caption("Currents in model units (with 10 fF nodes and 10 µA per unit, as on the Chip page, multiply by "
               "10 µA). Node 0 is ground at 0 V. Move t to watch the balance change as the circuit settles.")


def _balance(circuit: Circuit, x: np.ndarray, t: float, slice_index: int, node: int):
    model = KirchhoffNet(circuit, SOLVER, dtype=torch.float64)
    return node_balance(model, slice_voltages(model, x, t, slice_index), slice_index, node)
