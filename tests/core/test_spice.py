"""SPICE export checked against the real ngspice (installed by `make test`)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from kirchhoff_core import io, spice
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.train import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from test_model import ALL_KINDS, random_circuit  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "tiny_slice0.cir"
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def tiny_circuit() -> Circuit:
    s = make_slice(0.5, [(1, 2), (2, 0), (0, 1), (1, 2)], ["ShiftTanh2", "ShiftRelu1", "TanhResistor", "ShiftLeakyRelu2"],
                   params=np.array([[0.5, -0.25, 0.125], [0.1, 2.0, 0.0], [-0.3, 1.5, 0.0], [1.0, 1.0, -0.5]]))
    return Circuit(2, [s], inputs=[1], outputs=[2], capacitance=[1.0, 2.0], name="tiny")


def test_golden_netlist_line_by_line():
    text = spice.slice_netlist(tiny_circuit(), 0, np.array([0.75, 0.0]))
    want = GOLDEN.read_text().splitlines()
    got = text.splitlines()
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"line {i + 1} changed:\n got: {g}\nwant: {w}"
    assert len(got) == len(want)


@pytest.mark.parametrize("kind", ALL_KINDS + ["mixed"])
def test_ngspice_matches_torch_multi_slice(kind):
    kinds = ALL_KINDS if kind == "mixed" else [kind]
    c = random_circuit(11, kinds, widths=(4, 6, 3), resize="tile" if kind == "mixed" else "pad")
    r = spice.compare(c, np.array([0.6, -0.8]))
    assert r.max_abs <= 1e-3
    assert r.times[0] == 0.0 and r.times[-1] == pytest.approx(c.t_end)
    single = random_circuit(12, kinds, widths=(5,))
    assert spice.compare(single, np.array([1.0, 0.3])).max_abs <= 1e-3


def test_physical_units_keep_the_waveform():
    c = random_circuit(13, ["ShiftTanh2"], widths=(3,))
    scale = spice.PhysicalScale(cap_fF=20.0, current_uA=5.0)
    assert scale.time_unit_s == pytest.approx(4e-9)
    model_units = spice.simulate(c, np.array([0.5, -0.5]))
    physical = spice.simulate(c, np.array([0.5, -0.5]), spice.SpiceOptions(scale=scale))
    cap_line = next(ln for ln in physical.netlists[0].splitlines() if ln.startswith("C1 "))
    assert float(cap_line.split()[3]) == pytest.approx(2e-14)
    b_line = next(ln for ln in physical.netlists[0].splitlines() if ln.startswith("B1 "))
    assert float(b_line.split("I=")[1].split("*")[0]) == pytest.approx(5e-6)
    np.testing.assert_allclose(physical.voltages[-1], model_units.voltages[-1], atol=1e-5)


def test_trained_moons_example_reaches_ngspice_accuracy():
    """The comparison measures ngspice, not a loose setting: the shipped trained moons circuit
    (read-outs near 7 V) stays within 1e-5 V of the float64 torch solution at every time point;
    ngspice's own defaults (QUICK) are ~7e-4 V off."""
    c = io.load_circuit(EXAMPLES / "moons_trained.json")
    for x in ([0.5, -1.0], [1.5, 0.3], [-1.0, 1.0]):
        assert spice.compare(c, np.array(x)).max_abs <= 1e-5
    assert spice.compare(c, np.array([0.5, -1.0]), spice.QUICK).max_abs > 1e-4


def test_trained_moons_agrees_on_200_test_points():
    data = make_dataset("moons", n_samples=1000, test_fraction=0.2, seed=1)
    preset = preset_for("moons")
    model = KirchhoffNet(build_circuit(preset, seed=1), preset.solver)
    Trainer(model, data, preset.train).run(6)
    agreement, spice_cls, torch_cls = spice.class_agreement(model.to_circuit(), data.x_test[:200])
    assert len(spice_cls) == 200
    assert agreement >= 0.99


def test_write_netlists_one_per_slice(tmp_path):
    c = random_circuit(14, ["ShiftTanh1"], widths=(3, 4))
    files = spice.write_netlists(c, np.array([0.2, 0.1]), tmp_path / "net.cir")
    assert [f.name for f in files] == ["net.slice0.cir", "net.slice1.cir"]
    second = files[1].read_text()
    assert "IC=" in second and second.count("\nC") == 4
    names, data = spice.run_ngspice(files[0].read_text())
    assert names[0] == "time" and data.shape[1] == 4


def test_ngspice_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(spice.SpiceError, match="ngspice was not found.*apt-get install ngspice"):
        spice.simulate(tiny_circuit(), np.array([0.5]))


def test_rejected_netlist_shows_ngspice_message():
    with pytest.raises(spice.SpiceError, match="ngspice failed") as err:
        spice.run_ngspice("* broken\nB1 n1 0 I=thisisnotafunction(v(n1))\nC1 n1 0 1 IC=1\n.tran 0.1 1 uic\n"
                          ".control\nset filetype=ascii\nrun\nwrite out.raw v(n1)\nquit\n.endc\n.end\n")
    assert "thisisnotafunction" in str(err.value) or "rror" in str(err.value)


def test_timeout():
    slow = spice.SpiceOptions(points_per_slice=50_000_000, timeout_s=0.5)
    with pytest.raises(spice.SpiceError, match="timed out"):
        spice.simulate(tiny_circuit(), np.array([0.5]), slow)


def test_raw_reader_rejects_truncated_output():
    with pytest.raises(spice.SpiceError):
        spice.read_ascii_raw("Title: x\nNo. Variables: 2\nNo. Points: 3\nVariables:\n\t0\ttime\ttime\n"
                             "\t1\tv(n1)\tvoltage\nValues:\n 0\t0.0\n\t1.0\n")


def test_inputs_validated():
    with pytest.raises(ValueError, match="inputs"):
        spice.simulate(tiny_circuit(), np.array([np.nan]))


def _cli(*args, env=None):
    import subprocess
    return subprocess.run([sys.executable, "-m", "kirchhoff_core", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_cli_export_and_check(tmp_path):
    from kirchhoff_core.io import save_circuit
    path = tmp_path / "c.json"
    save_circuit(random_circuit(15, ["ShiftTanh2", "Conductance"], widths=(4,)), path)
    out = _cli("export-spice", str(path), "--inputs", "0.5,-1", "-o", str(tmp_path / "n.cir"), "--units", "10,10")
    assert out.returncode == 0, out.stderr
    assert "uic" in (tmp_path / "n.cir").read_text()
    out = _cli("spice-check", str(path), "--inputs", "0.5,-1")
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("max |dv|"))
    assert float(line.split("=")[1].split()[0]) <= 1e-3
    import os
    out = _cli("spice-check", str(path), "--inputs", "0.5,-1", env={**os.environ, "PATH": "/nonexistent"})
    assert out.returncode == 2 and "error: ngspice was not found" in out.stderr and "Traceback" not in out.stderr
