"""Build page wiring through Streamlit's AppTest, plus the page's pure helpers (upload parsing, canvas
conversion, figures) called directly.

Expected numbers come from the generators' documented formulas (e.g. a ring of N nodes with ground
links has 2N + 2N devices), not from the code under test. Every rejected action must show st.error
and leave the very same circuit object in the session.
"""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest
import torch

from kirchhoff_core import editing, io
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig

SESSION = "kirchhoff_playground"
GEN = "FormSubmitter:build_gen_form-Generate"


# --- helpers -------------------------------------------------------------------------------------

def started(app):
    app.run()
    assert not app.exception, app.exception
    return app


def circuit_of(app):
    return app.session_state[SESSION].circuit


def metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def errors(app) -> list[str]:
    return [e.value for e in app.error]


def table_key(app) -> str:
    return app.session_state[SESSION].build.table_key


def edit_table(app, edited=None, added=None, deleted=None):
    """Seed the live device table's edit state (what the browser sends), then press Apply."""
    app.session_state[table_key(app)] = {"edited_rows": edited or {}, "added_rows": added or [],
                                         "deleted_rows": deleted or []}
    app.run()
    app.button(key="build_table_apply").click().run()
    assert not app.exception, app.exception


def generate_in_form(app, name: str, **values):
    app.selectbox(key="build_gen_name").set_value(name).run()
    for key, value in values.items():
        found = [w for w in (*app.number_input, *app.checkbox, *app.text_input, *app.text_area, *app.selectbox)
                 if w.key == f"build_gen_{name}_{key}"]
        assert found, f"no widget for {key}"
        found[0].set_value(value)
    app.button(key=GEN).click().run()
    assert not app.exception, app.exception


def upload(app, name: str, data: bytes):
    """Drop a file into the (current, empty) upload box; after it is processed the page shows a new box."""
    version = app.session_state[SESSION].build.upload_version
    app.file_uploader(key=f"build_upload_{version}").set_value((name, data, "application/octet-stream")).run()
    assert app.session_state[SESSION].build.upload_version == version + 1
    assert not app.exception, app.exception


# --- the page ------------------------------------------------------------------------------------

def test_page_runs_with_the_default_moons_circuit(app):
    started(app)
    assert errors(app) == []
    m = metrics(app)
    # the moons preset: fully connected, 8 nodes + ground, one device each way per ordered pair -> 9*8*2
    assert m["Nodes"] == "8" and m["Devices"] == "144" and m["Slices"] == "1" and m["T"] == "1"
    assert m["Parameters"] == str(144 * 3)
    assert [s.value for s in app.subheader] == ["Network view", "Edit", "Device I-V inspector"]
    assert any("tanh" in latex.value for latex in app.latex)
    assert len(app.get("plotly_chart")) == 3  # circuit + I-V curve + I-V surface


def test_generate_with_other_parameters_updates_the_stats_and_the_config(app):
    started(app)
    before = circuit_of(app)
    generate_in_form(app, "ring", num_nodes=10, num_slices=2)
    m = metrics(app)
    assert m["Nodes"] == "10"
    assert m["Devices"] == str(2 * (2 * 10 + 2 * 10))  # per slice: 10 links x 2 directions + 2 per node to ground
    assert m["Slices"] == "2" and m["T"] == "2"
    assert circuit_of(app) is not before
    config = app.session_state[SESSION].config
    assert config.generator == "ring" and config.generator_params["num_nodes"] == 10
    assert generate("ring", **config.generator_params).num_devices == circuit_of(app).num_devices
    # the confirmation stays through later runs (a canvas round trip, a layout change) until the next change
    app.run()
    app.selectbox(key="build_layout").set_value("circular").run()
    assert len(app.success) == 1 and app.success[0].value.startswith("Generated") and "10 nodes" in app.success[0].value
    generate_in_form(app, "chain", num_nodes=4)
    assert len(app.success) == 1 and "chain" in app.success[0].value


def test_generate_int_list_and_bad_arguments(app):
    started(app)
    generate_in_form(app, "layered", layer_sizes="3, 5, 2", ground_links=False)
    assert metrics(app)["Nodes"] == "10" and metrics(app)["Devices"] == str((3 * 5 + 5 * 2) * 2)
    good = circuit_of(app)
    generate_in_form(app, "small_world", num_nodes=6, k_neighbours=6)  # k must be < num_nodes
    assert any("k_neighbours" in e for e in errors(app))
    assert circuit_of(app) is good
    generate_in_form(app, "layered", layer_sizes="3, x")
    assert any("layer_sizes" in e for e in errors(app)) and circuit_of(app) is good


def test_table_edit_changes_a_kind_and_adds_a_row(app):
    started(app)
    c0 = circuit_of(app)
    edit_table(app, edited={0: {"kind": "Conductance", "p0": 0.75}})
    c1 = circuit_of(app)
    assert c1 is not c0 and errors(app) == []
    assert c1.slices[0].kind[0] == "Conductance" and c1.slices[0].params[0].tolist() == [0.75, 0.0, 0.0]
    assert c1.num_devices == c0.num_devices and c1.num_parameters == c0.num_parameters - 2
    assert np.array_equal(c1.slices[0].params[1:], c0.slices[0].params[1:])
    assert metrics(app)["Parameters"] == str(c0.num_parameters - 2)

    edit_table(app, added=[{"src": 3, "dst": 0, "kind": "TanhResistor", "p0": 1.5, "p1": -2.0}])
    c2 = circuit_of(app)
    assert c2.num_devices == c0.num_devices + 1 and metrics(app)["Devices"] == str(c0.num_devices + 1)
    assert c2.slices[0].devices()[-1] == {"src": 3, "dst": 0, "kind": "TanhResistor", "params": [1.5, -2.0]}

    edit_table(app, deleted=[0, 1])
    assert circuit_of(app).num_devices == c0.num_devices - 1


@pytest.mark.parametrize("edit, message", [
    ({0: {"dst": 0}}, "self-loop"),  # device 0 of the moons circuit is 0 -> 1
    ({0: {"dst": 99}}, "node 99 does not exist"),
])
def test_invalid_table_edit_shows_the_core_error_and_keeps_the_circuit(app, edit, message):
    started(app)
    before = circuit_of(app)
    assert before.slices[0].src[0] == 0
    edit_table(app, edited=edit)
    assert any(message in e for e in errors(app)), errors(app)
    assert circuit_of(app) is before and metrics(app)["Devices"] == "144"


def test_table_pages_of_a_big_slice_edit_only_their_rows(app):
    started(app)
    generate_in_form(app, "mixed")  # 6x6 pixels, k=3, 4 projection nodes: more than one table page
    c0 = circuit_of(app)
    assert c0.num_devices > 1000
    app.selectbox(key="build_table_page_0").set_value(1000).run()
    edit_table(app, edited={0: {"kind": "Conductance"}})
    c1 = circuit_of(app)
    assert c1.num_devices == c0.num_devices
    assert c1.slices[0].kind[1000] == "Conductance"
    changed = np.flatnonzero(c1.slices[0].kind != c0.slices[0].kind)
    assert changed.tolist() == [1000]


def test_add_remove_and_copy_slices(app):
    started(app)
    app.radio(key="build_add_how").set_value("empty").run()
    app.button(key="build_add_slice").click().run()
    c = circuit_of(app)
    assert metrics(app)["Slices"] == "2" and c.slices[1].num_devices == 0
    assert app.selectbox(key="build_slice").value == 1  # the new slice is selected
    app.button(key="build_copy_topology").click().run()
    c = circuit_of(app)
    assert np.array_equal(c.slices[1].src, c.slices[0].src) and metrics(app)["Devices"] == "288"
    app.button(key="build_remove_slice").click().run()
    assert metrics(app)["Slices"] == "1" and circuit_of(app).num_devices == 144
    assert app.button(key="build_remove_slice").disabled  # a circuit keeps at least one slice
    assert app.button(key="build_copy_topology").disabled  # slice 0 has no previous slice


def test_durations_are_applied_and_validated(app):
    started(app)
    key = next(d.key for d in app.data_editor if d.key.startswith("build_durations_"))
    app.session_state[key] = {"edited_rows": {0: {"duration": 2.5}}, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="build_apply_durations").click().run()
    assert metrics(app)["T"] == "2.5"
    before = circuit_of(app)
    key = next(d.key for d in app.data_editor if d.key.startswith("build_durations_"))
    app.session_state[key] = {"edited_rows": {0: {"duration": 0.0}}, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="build_apply_durations").click().run()
    assert any("duration" in e for e in errors(app)) and circuit_of(app) is before


def test_nodes_and_roles(app):
    started(app)
    app.button(key="build_add_node").click().run()
    assert metrics(app)["Nodes"] == "9"
    ms = {m.key.split("_")[1]: m for m in app.multiselect}
    ms["inputs"].set_value([]).run()
    app.button(key="build_apply_roles").click().run()
    assert any("inputs" in e for e in errors(app)) and circuit_of(app).inputs == [1, 2]
    ms = {m.key.split("_")[1]: m for m in app.multiselect}
    ms["inputs"].set_value([3]).run()
    ms = {m.key.split("_")[1]: m for m in app.multiselect}
    ms["outputs"].set_value([9]).run()
    app.button(key="build_apply_roles").click().run()
    assert circuit_of(app).inputs == [3] and circuit_of(app).outputs == [9]
    before = circuit_of(app)
    app.button(key="build_remove_node").click().run()  # the default choice is the last node, 9: the only read-out
    assert any("outputs" in e for e in errors(app)) and circuit_of(app) is before
    app.number_input(key=next(n.key for n in app.number_input if n.key.startswith("build_rm_node_"))).set_value(5).run()
    app.button(key="build_remove_node").click().run()
    c = circuit_of(app)
    assert metrics(app)["Nodes"] == "8" and c.inputs == [3] and c.outputs == [8]  # node 9 is now node 8
    assert not ((c.slices[0].src == 9) | (c.slices[0].dst == 9)).any()


# --- uploads and examples ------------------------------------------------------------------------

def _huge_json(n: int) -> bytes:
    device = {"src": 1, "dst": 2, "kind": "Conductance", "params": [0.1]}
    return json.dumps({"num_nodes": 2, "inputs": [1], "outputs": [2],
                       "slices": [{"duration": 1.0, "devices": [device] * n}]}).encode()


def _hostile_json(**changes) -> bytes:
    doc = json.loads(_huge_json(1))
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name, data, message", [
    ("broken.json", b'{"num_nodes": 3, "slices": [', "malformed JSON"),
    ("model.json", pickle.dumps({"num_nodes": 3}), "pickle"),
    ("huge.json", _huge_json(200_001), "200,001 devices"),
    ("not_a_circuit.json", b'{"num_nodes": 3}', "missing"),
    ("bad.graphml", b"<graphml><graph>", "graphml"),
    # issue 15: booleans for numbers, overflow, nesting, huge sizes, unverifiable weights
    ("bool.json", _hostile_json(schema_version=True), "schema_version"),
    ("bool_nodes.json", _hostile_json(num_nodes=True), "num_nodes"),
    ("deep.json", b'{"meta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ("int.json", _hostile_json(num_nodes=10 ** 30), "the limit is 100,000"),
    ("t.json", _hostile_json(slices=[{"duration": 1e308, "devices": [
        {"src": 1, "dst": 2, "kind": "Conductance", "params": [0.1]}]}] * 2), "T is infinite"),
    ("nosha.json", _hostile_json(weights={"file": "w.safetensors"}), "weights.sha256"),
])
def test_bad_uploads_show_an_error_and_keep_the_circuit(app, name, data, message):
    started(app)
    before = circuit_of(app)
    upload(app, name, data)
    assert any(message in e for e in errors(app)), errors(app)
    assert circuit_of(app) is before and metrics(app)["Devices"] == "144"
    app.run()  # the same file is not processed again, and the error stays next to it
    assert circuit_of(app) is before and any(message in e for e in errors(app))


def test_good_uploads_replace_the_circuit(app):
    started(app)
    ring = generate("ring", num_nodes=5, kind="Conductance", seed=4)
    upload(app, "ring.json", io.dumps_circuit(ring).encode())
    c = circuit_of(app)
    assert errors(app) == [] and metrics(app)["Nodes"] == "5"
    assert np.array_equal(c.slices[0].params, ring.slices[0].params)
    layered = generate("layered", layer_sizes=[2, 3], num_slices=2)
    upload(app, "layered.graphml", io.to_graphml(layered).encode())
    assert metrics(app)["Nodes"] == "5" and metrics(app)["Slices"] == "2"
    assert circuit_of(app).num_devices == layered.num_devices


def test_examples_load(app):
    started(app)
    options = app.selectbox(key="build_example").options
    assert len(options) >= 3
    app.selectbox(key="build_example").set_value("tanh triangle").run()
    app.button(key="build_load_example").click().run()
    assert metrics(app)["Nodes"] == "3" and errors(app) == []


# --- classroom mode ------------------------------------------------------------------------------

def test_classroom_mode_hides_generator_editor_and_io(app):
    app.query_params["hide"] = "generator,editor,io"
    started(app)
    keys = {w.key for w in (*app.button, *app.data_editor)}
    assert GEN not in keys and "build_table_apply" not in keys and "build_add_slice" not in keys
    assert len(app.file_uploader) == 0 and len(app.data_editor) == 0
    assert [s.value for s in app.subheader] == ["Network view", "Device I-V inspector"]
    assert metrics(app)["Nodes"] == "8"


def test_classroom_mode_can_hide_only_io(app):
    app.query_params["hide"] = "io"
    started(app)
    assert len(app.file_uploader) == 0 and any(b.key == GEN for b in app.button)
    assert any(d.key == table_key(app) for d in app.data_editor)


# --- helpers called directly ---------------------------------------------------------------------

def test_load_upload_refuses_pickles_by_name_and_content():
    from uploads import load_upload

    from kirchhoff_core.io import CircuitFileError

    with pytest.raises(CircuitFileError, match="never"):
        load_upload([("weights.pkl", b"anything")])
    with pytest.raises(CircuitFileError, match="pickle"):
        load_upload([("circuit.json", pickle.dumps([1, 2, 3]))])
    with pytest.raises(CircuitFileError, match="exactly one"):
        load_upload([("a.json", b"{}"), ("b.json", b"{}")])


def test_load_upload_with_safetensors_weights(tmp_path):
    from uploads import load_upload

    c = generate("chain", num_nodes=4, seed=9)
    written = io.save_circuit(c, tmp_path / "chain.json", weights="safetensors")
    loaded = load_upload([(p.name, p.read_bytes()) for p in written])
    assert np.array_equal(loaded.slices[0].params, c.slices[0].params)


def test_canvas_conversion_adds_connects_and_removes():
    from kirchhoff_core.circuit import CircuitError
    from views import flow_canvas

    c = generate("custom", edges="1-2, 2-3, 3-1", repeats=(1, 1), ground_links=True, inputs=[1], outputs=[3])
    state = flow_canvas.build_state(c, 0, {}, {n: (0.1 * n, 0.5) for n in range(4)}, timestamp=1)
    ids = [n.id for n in state.nodes]
    assert ids == ["n0", "n1", "n2", "n3"] and not state.nodes[0].deletable
    pairs = [(e.source, e.target) for e in state.edges]
    assert len(pairs) == 12  # 3 links x 2 directions + 3 nodes x 2 ground links

    same = flow_canvas.apply_canvas(c, 0, ids, pairs)
    assert not same.changed and same.circuit is c

    # a new node, connected from node 2 with a new Conductance device
    edit = flow_canvas.apply_canvas(c, 0, ids + ["st-flow-node_x"], pairs + [("n2", "st-flow-node_x")],
                                    new_kind="Conductance")
    assert edit.changed and edit.circuit.num_nodes == 4 and edit.id_map["st-flow-node_x"] == 4
    last = edit.circuit.slices[0].devices()[-1]
    assert (last["src"], last["dst"], last["kind"]) == (2, 4, "Conductance") and last["params"][0] != 0.0
    assert c.num_nodes == 3  # the original is untouched

    # deleting the edge 1 -> 2 removes that pair's devices; deleting node 2 renumbers node 3
    edit = flow_canvas.apply_canvas(c, 0, ids, [p for p in pairs if p != ("n1", "n2")])
    assert edit.circuit.num_devices == 11
    kept = [p for p in pairs if "n2" not in p]
    edit = flow_canvas.apply_canvas(c, 0, ["n0", "n1", "n3"], kept)
    assert edit.circuit.num_nodes == 2 and edit.id_map == {"n0": 0, "n1": 1, "n3": 2}
    assert edit.circuit.outputs == [2]

    with pytest.raises(CircuitError, match="self-loop"):
        flow_canvas.apply_canvas(c, 0, ids, pairs + [("n1", "n1")])
    with pytest.raises(CircuitError, match="ground"):
        flow_canvas.apply_canvas(c, 0, ids[1:], [p for p in pairs if "n0" not in p])
    with pytest.raises(CircuitError, match="inputs"):  # node 1 is the only input
        flow_canvas.apply_canvas(c, 0, ["n0", "n2", "n3"], [p for p in pairs if "n1" not in p])


def test_views_draw_small_circuits_and_summarise_huge_ones():
    from views import circuit_view, iv_view

    small = generate("fully_connected", num_nodes=3, repeats=(2, 1))
    fig = circuit_view.circuit_figure(small)
    names = {t.name for t in fig.data}
    assert {"ground (node 0)", "input node", "read-out node"} <= names
    # i->j gets r0 = 2 devices from the visit (i, j) and r1 = 1 from the visit (j, i): 3 per ordered pair,
    # for the 4 x 3 ordered pairs of {0, 1, 2, 3}; the common count is said once, no edge is labelled
    assert not [t for t in fig.data if t.mode == "text"]
    assert "every edge is 3 parallel devices" in fig.layout.title.text
    assert fig.layout.yaxis.scaleanchor == "x"
    arrows = [t for t in fig.data if t.name == "direction (src → dst)"]
    assert sorted(tuple(p) for t in arrows for p in t.customdata) == sorted(
        {(int(u), int(v)) for u, v in zip(small.slices[0].src, small.slices[0].dst)})  # a click names its pair
    devices = small.slices[0].devices()
    extra = next(d for d in devices if (d["src"], d["dst"]) == (1, 2))
    mixed = editing.set_devices(small, 0, devices + [dict(extra)])  # the pair 1 -> 2 now has 4 devices
    fig = circuit_view.circuit_figure(mixed)
    labels = [t for t in fig.data if t.mode == "text"]
    assert labels and list(labels[0].text) == ["×4"] and "3 parallel devices per edge unless labelled" in \
        fig.layout.title.text

    big = generate("random_graph", num_nodes=120, p=0.5, seed=1)
    assert len(circuit_view.device_pairs(big, 0)) > circuit_view.MAX_DRAWN_PAIRS
    assert "too many to draw" in circuit_view.circuit_figure(big).layout.title.text

    pos = circuit_view.node_positions(small)
    assert pos[0][1] < min(y for n, (x, y) in pos.items() if n)  # ground at the bottom

    dv = np.linspace(-1, 1, 5)
    f = iv_view.iv_curve_figure(dv, dv * 2, "t", others=[dv, -dv])
    assert np.allclose(f.data[2].y, dv * 2)  # the sum of the three devices
    s = iv_view.iv_surface_figure(dv, dv, np.outer(dv, dv), "s")
    assert s.data[0].z.shape == (5, 5)


# --- the network view ------------------------------------------------------------------------------

def _view_nodes(app) -> dict[int, dict]:
    frames = app.get("iframe")
    assert len(frames) == 1
    html = frames[0].proto.srcdoc
    return {n["id"]: n for n in json.loads(re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", html, re.S).group(1))}


def test_network_view_by_role_and_by_voltage(app):
    from state import dataset_for

    from kirchhoff_core.netview import ROLE_COLOURS
    from kirchhoff_core.trajectories import slice_voltages

    started(app)
    assert not app.get("iframe") and not app.toggle(key="build_net_show").value  # a small circuit: off until asked
    app.toggle(key="build_net_show").set_value(True).run()
    nodes = _view_nodes(app)
    assert sorted(nodes) == list(range(9)) and nodes[1]["color"] == ROLE_COLOURS["input"]
    app.radio(key="build_net_colour").set_value("voltage").run()
    app.number_input(key="build_net_sample").set_value(3).run()
    assert not app.exception and errors(app) == []
    s = app.session_state[SESSION]
    model = KirchhoffNet(circuit_of(app), SolverConfig(rtol=1e-6, atol=1e-6), dtype=torch.float64)
    expected = slice_voltages(model, dataset_for(s.config).x_test[3], 1.0)  # the session's moons test point 3
    nodes = _view_nodes(app)
    shown = [float(re.search(r": ([-+][\d.e+-]+) V", nodes[n]["title"]).group(1)) for n in range(1, 9)]
    np.testing.assert_allclose(shown, expected, rtol=1e-3, atol=1e-4)
    # a circuit whose inputs do not fit the dataset: typed voltages, refused with a message when malformed
    generate_in_form(app, "ring", num_nodes=6, n_inputs=3)
    app.text_input(key="build_net_typed").set_value("0.5, x").run()
    assert any("Input voltages" in e for e in errors(app)) and not app.get("iframe")
    app.text_input(key="build_net_typed").set_value("-1").run()  # one value: every input
    assert errors(app) == [] and len(_view_nodes(app)) == 7
