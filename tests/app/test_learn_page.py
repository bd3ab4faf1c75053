"""The Learn page: KCL with the session's own numbers, explanations and the device table."""

from __future__ import annotations

from apptest_helpers import after_one_epoch, open_page, session

from views.learn_views import kcl_latex, node_terms, substitute

from kirchhoff_core.devices import KINDS
from kirchhoff_core.generators import generate


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
