"""Learn page: what a KirchhoffNet computes, with the session's own circuit as the worked example."""

from __future__ import annotations

import streamlit as st

import state
from components.common import ensure_circuit, example_picker, model_source, page_header
from components.learn_balance import plug_in
from kirchhoff_core.circuit import node_role
from state import bound
from views import learn_views as lv

session = state.get_session()
choice = session.learn

page_header(session, "learn", "Learn", "How a circuit of capacitors and nonlinear devices becomes a neural network.",
            session.learn_messages)
ensure_circuit(session)
circuit, _ = state.current_circuit(session)
source, trained = model_source(session)

st.subheader("Kirchhoff's current law is the forward pass")
st.markdown("Every node $n$ has a capacitor $C_n$ to ground. The charge on it changes by whatever current flows in "
            "minus whatever flows out, one term per device $e$ that touches the node, from its source $s_e$ to "
            "its destination $d_e$:")
st.latex(lv.KCL_GENERAL)
st.markdown("Stack all nodes and this is an ordinary differential equation $C\\,\\dot v = -B\\,g(v)$ with the "
            "signed incidence matrix $B$. Solving it from $t = 0$ to $t = T$ *is* the network's forward pass; "
            "training adjusts the device parameters $\\theta_e$ by back-propagating through the solver.")

st.markdown(f"**Your circuit, one node at a time** — **{circuit.name or 'custom'}**, parameters {source}:")
if not trained:
    with st.columns([1, 2])[0]:
        example_picker(session, session.learn_messages, "learn_load_example")
cols = st.columns([1, 1, 3])
slice_index = min(choice.slice, len(circuit.slices) - 1)
if len(circuit.slices) > 1:
    slice_index = bound(cols[1].number_input, "Slice", 0, len(circuit.slices) - 1, key="learn_slice",
                        value=slice_index, on_set=lambda v: setattr(choice, "slice", int(v)))
width = circuit.width(slice_index)
node = bound(cols[0].selectbox, "Node", list(range(1, width + 1)), key="learn_node", value=min(choice.node, width),
             on_set=lambda v: setattr(choice, "node", int(v)),
             format_func=lambda n: f"{n} ({node_role(n, circuit.inputs, circuit.outputs)})")
st.latex(lv.kcl_latex(circuit, slice_index, node))
into, out = lv.node_terms(circuit, slice_index, node)
st.caption(f"Node {node}: {len(into)} device(s) push current in, {len(out)} draw current out. "
           "$v_0 = 0$ is ground. Each term is the device's I-V law with its learned parameters.")
with st.expander(f"All {len(into) + len(out)} devices at node {node}"):
    rows = [{"direction": "in" if t in into else "out", "device": t.device, "from": t.src, "to": t.dst,
             "kind": t.kind, "params": ", ".join(f"{p:.4g}" for p in t.params)} for t in into + out]
    st.dataframe(rows, hide_index=True, width="stretch")
plug_in(session, circuit, slice_index, int(node))

st.subheader("The pieces")
st.markdown(f"""
- **Input.** The data point is written into the circuit as initial voltages: input node $i$ starts at
  $v_i(0) = x_i$, every other node at 0 V. Your circuit's input nodes: {circuit.inputs}.
- **Output.** Let the circuit run until time $T$ and read the voltages of the read-out nodes. For
  classification they are the logits (one node per class, soft-maxed by the loss); for regression they are the
  prediction. Your read-out nodes: {circuit.outputs}.
- **Read-out time $T$.** How long the transient runs. Longer lets signals travel further through the circuit
  (more "depth"), but the solver needs more steps and big $T$ can let unstable circuits blow up.
  Your $T$ = {circuit.t_end:g}.
- **Slices.** $[0, T]$ can be cut into time slices $[t_{{l-1}}, t_l]$, each with its own devices and parameters,
  like layers: on a chip, switches re-wire the circuit at each boundary. Your circuit has
  {len(circuit.slices)} slice(s) of durations {', '.join(f'{d:g}' for d in circuit.durations)}.
- **Devices.** Each edge is a two-terminal element whose current $I = g(v_s, v_d; \\theta)$ depends on its two
  node voltages. Most families are active transconductors (they can push current uphill); the table below
  lists them all.
- **Ground.** Node 0 is the reference, always at 0 V. Devices may connect to it: a device into ground
  drains a node, one out of ground feeds it a voltage-dependent current (a learnable bias).
- **Parallel devices.** Several devices between the same two nodes add their currents, so a node pair behaves
  like a small one-hidden-layer network of its two voltages.
- **Capacitance $C$.** Sets the time scale: scaling every capacitor by $\\alpha$ slows everything by
  $\\alpha$. With femtofarads and microamps the whole forward pass takes about a nanosecond.
""")

st.subheader("Device families")
st.markdown(lv.device_table_markdown())
state.publish(session, "learn")
