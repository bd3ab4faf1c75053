"""The Learn page: KCL with the session's own numbers, explanations and the device table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from apptest_helpers import after_one_epoch, metric, open_page, session

from state import dataset_for
from views.learn_views import kcl_latex, node_terms, substitute

from kirchhoff_core.devices import KINDS
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.trajectories import slice_voltages


def test_learn_page_shows_kcl_with_the_circuits_numbers():
    at = open_page("app_pages/learn.py")
    latex = [x.value for x in at.latex]
    assert any(r"\sum_{e\,:\,d_e = n} I_e" in x for x in latex)  # the general law
    circuit = session(at).circuit
    p = circuit.slices[0].devices()[0]["params"]  # device 0 is 0 -> 1 in the fully connected circuit
    node1 = next(x for x in latex if r"\frac{dv_{1}}{dt}" in x)
    assert f"{p[0]:.3g}" in node1 and "ShiftTanh2" in node1
    at.selectbox(key="learn_node").set_value(7).run()
    node7 = next(x for x in (y.value for y in at.latex) if r"\frac{dv_{7}}{dt}" in x)
    assert node7 != node1
    text = " ".join(m.value for m in at.markdown)
    for word in ("Input.", "Output.", "Read-out time", "Slices.", "Devices.", "Ground.", "Parallel devices."):
        assert word in text
    for kind in KINDS:
        assert f"`{kind}`" in text
    table = next(m.value for m in at.markdown if "| kind |" in m.value)
    for line in table.splitlines()[2:]:  # every row keeps its five cells (no stray | from a formula)
        assert line.count("|") == 6, line
    assert not at.error


def test_learn_page_uses_trained_parameters():
    at = after_one_epoch("app_pages/learn.py")
    assert "epoch 1" in " ".join(m.value for m in at.markdown)
    trained = session(at).trainer.model.to_circuit()
    assert any(kcl_latex(trained, 0, 1) in x.value for x in at.latex)


def test_substitution_and_terms():
    assert substitute(r"\tanh(p_0 v_s + p_1 v_d + p_2)", [0.5, -0.25, -1.0], 3, 0) == \
        r"\tanh(0.5 v_{3} - 0.25 v_{0} - 1)"
    assert substitute(r"p_1 \,\mathrm{relu}(v_s - v_d - p_0)", [-0.5, 2.0], 1, 2) == \
        r"2 \,\mathrm{relu}(v_{1} - v_{2} + 0.5)"
    c = generate("chain", num_nodes=3)  # 1-2, 2-3 both ways, plus each node to and from ground
    into, out = node_terms(c, 0, 2)
    assert sorted((t.src, t.dst) for t in into) == [(0, 2), (1, 2), (3, 2)]
    assert sorted((t.src, t.dst) for t in out) == [(2, 0), (2, 1), (2, 3)]
    eq = kcl_latex(c, 0, 2, max_terms=2)
    assert eq.count(r"\dots") == 2 and "1 more device" in eq


def test_plugging_in_an_input_adds_the_currents_up_to_c_dv_dt():
    """Node 7 of the trained moons example at t = 0.5 for test sample 4: the table's currents are the
    core's at the core's voltages, and in - out equals C dv/dt (and a finite difference of the transient)."""
    at = open_page("app_pages/learn.py", {"example": "moons", "learn.node": "7", "learn.i": "4", "learn.t": "0.5"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    s = session(at)
    model = KirchhoffNet(s.circuit, SolverConfig(rtol=1e-9, atol=1e-9), dtype=torch.float64)
    x = dataset_for(s.config).x_test[4]
    v = slice_voltages(model, x, 0.5, 0)
    currents = model.currents(torch.as_tensor(v).unsqueeze(0), 0)[0].detach().numpy()
    table = at.dataframe[-1].value
    sl = s.circuit.slices[0]
    assert list(table["device"]) == list(np.flatnonzero((sl.src == 7) | (sl.dst == 7)))
    np.testing.assert_allclose(table["current I"], currents[table["device"]], rtol=1e-9, atol=1e-12)
    contributions = float(table["adds to the node"].sum())
    h = 1e-5
    slope = (slice_voltages(model, x, 0.5 + h, 0) - slice_voltages(model, x, 0.5 - h, 0))[6] / (2 * h)
    assert contributions == pytest.approx(slope, rel=1e-4, abs=1e-6)  # C = 1
    assert float(metric(at, "C dv7/dt")) == pytest.approx(contributions, rel=1e-3, abs=1e-4)
    assert any(r"\frac{dv_{7}}{dt} \;=\; " in x.value and "+" in x.value for x in at.latex)
    assert dict(at.query_params) == {"example": "moons_trained", "learn.node": "7", "learn.i": "4",
                                     "learn.t": "0.5"}

    # typed voltages (a list starting with a negative number) and a bad entry
    at.radio(key="learn_how").set_value("typed voltages").run()
    at.text_input(key="learn_typed").set_value("-0.5, 1").run()
    assert not at.error and session(at).learn.voltages == "-0.5, 1" and session(at).learn.typed
    assert dict(at.query_params)["learn.v"] == "-0.5, 1"
    at.text_input(key="learn_typed").set_value("-0.5, x").run()
    assert any("Input voltages" in e.value for e in at.error)
    at.text_input(key="learn_typed").set_value("1, 2, 3").run()
    assert any("input: the circuit has 2 input node(s)" in e.value for e in at.error)
