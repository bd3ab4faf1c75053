"""The simulated chip: ideal when everything is off, each non-ideality does what it says."""

import numpy as np
import pytest
import torch

from kirchhoff_core.chip import ChipConfig, ChipInstance, adc_lsb, energy, monte_carlo, quantise
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def moons():
    return make_dataset("moons", 200, seed=0)


@pytest.fixture(scope="module")
def trained(moons):
    preset = preset_for("moons")
    model = KirchhoffNet(build_circuit(preset), preset.solver)
    Trainer(model, moons, preset.train).run(4)
    return model.to_circuit()


def ideal_readout(circuit, x, tol=1e-6):
    m = KirchhoffNet(circuit, SolverConfig(rtol=tol, atol=tol), dtype=torch.float64)
    with torch.no_grad():
        return m(torch.as_tensor(x)).numpy()


def test_all_off_equals_the_ideal_model(trained, moons):
    chip = ChipInstance(trained, ChipConfig(), seed=3)
    assert np.abs(chip.read_out(moons.x_test) - ideal_readout(trained, moons.x_test)).max() <= 1e-6


def test_zero_mismatch_reproduces_ideal_and_nonzero_is_seeded(trained, moons):
    x = moons.x_test[:20]
    zero = ChipInstance(trained, ChipConfig(device_mismatch=0.0, cap_mismatch=0.0), seed=1).read_out(x)
    assert np.abs(zero - ideal_readout(trained, x)).max() <= 1e-6
    a = ChipInstance(trained, ChipConfig(device_mismatch=0.1), seed=5).read_out(x)
    b = ChipInstance(trained, ChipConfig(device_mismatch=0.1), seed=5).read_out(x)
    c = ChipInstance(trained, ChipConfig(device_mismatch=0.1), seed=6).read_out(x)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.abs(a - zero).max() > 1e-3


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_adc_error_within_half_lsb_and_clips(bits):
    v = np.linspace(-3, 3, 2001)
    q = quantise(v, bits, 2.0)
    lsb = adc_lsb(bits, 2.0)
    inside = np.abs(v) <= 2.0
    assert np.abs(q[inside] - v[inside]).max() <= lsb / 2 + 1e-12
    assert np.all(q[v > 2.0] == 2.0) and np.all(q[v < -2.0] == -2.0)
    assert len(np.unique(q)) == 2 ** bits
    t = quantise(torch.as_tensor(v), bits, 2.0).numpy()
    assert np.array_equal(t, q)


def test_adc_and_dac_on_the_chip(trained, moons):
    x = moons.x_test[:30]
    chip = ChipInstance(trained, ChipConfig(adc_bits=4, adc_range=1.0))
    out = chip.read_out(x)
    ideal = ideal_readout(trained, x)
    lsb = adc_lsb(4, 1.0)
    codes = (out + 1.0) / lsb
    assert np.allclose(codes, np.round(codes))
    inside = np.abs(ideal) <= 1.0
    assert np.abs(out - ideal)[inside].max() <= lsb / 2 + 1e-9
    assert np.all(np.abs(out) <= 1.0 + 1e-12)
    dac = ChipInstance(trained, ChipConfig(dac_bits=3, dac_range=2.0))
    written = dac.write_inputs(x)
    assert np.abs(written - x).max() <= adc_lsb(3, 2.0) / 2 + 1e-12 and len(np.unique(written)) <= 8


def test_sde_with_zero_noise_equals_ode(trained, moons):
    x = moons.x_test[:10]
    chip = ChipInstance(trained, ChipConfig(thermal_noise=True, noise_scale=0.0, sde_steps=2500))
    assert np.abs(chip.read_out(x) - ideal_readout(trained, x, tol=1e-11)).max() <= 1e-6
    noisy = ChipInstance(trained, ChipConfig(thermal_noise=True, noise_scale=50.0), seed=2).read_out(x)
    again = ChipInstance(trained, ChipConfig(thermal_noise=True, noise_scale=50.0), seed=2).read_out(x)
    assert np.array_equal(noisy, again) and np.abs(noisy - ideal_readout(trained, x)).max() > 1e-3


def test_offsets_jitter_and_rails(trained, moons):
    x = moons.x_test[:10]
    ideal = ideal_readout(trained, x)
    off = ChipInstance(trained, ChipConfig(readout_offset=0.05), seed=1)
    np.testing.assert_allclose(off.read_out(x) - ideal, np.broadcast_to(off.readout_offset, ideal.shape), atol=1e-6)
    jit = ChipInstance(trained, ChipConfig(jitter=0.05), seed=1).read_out(x)
    assert 0 < np.abs(jit - ideal).max() < 0.5
    rail = ChipInstance(trained, ChipConfig(supply=0.2)).read_out(x)
    assert np.abs(rail).max() <= 0.2 + 1e-12


def test_monte_carlo_is_reproducible(trained, moons):
    cfg = ChipConfig(device_mismatch=0.05)
    a = monte_carlo(trained, moons, cfg, chips=5, seed=11)
    b = monte_carlo(trained, moons, cfg, chips=5, seed=11)
    c = monte_carlo(trained, moons, cfg, chips=5, seed=12)
    assert np.array_equal(a.values, b.values) and not np.array_equal(a.values, c.values)
    s = a.summary()
    assert s["worst"] == a.values.min() and s["p5"] <= s["p50"] <= s["p95"] and s["chips"] == 5
    assert s["ideal"] == monte_carlo(trained, moons, ChipConfig(), chips=1).ideal


def test_energy_of_a_resistor_discharging_a_capacitor():
    c = Circuit(1, [make_slice(20.0, [(1, 0)], "Conductance", params=np.array([[1.0, 0, 0]]))],
                inputs=[1], outputs=[1])
    cfg = ChipConfig(cap_fF=10.0, current_uA=10.0)
    e = energy(c, np.array([0.8]), cfg)
    half_cv2 = 0.5 * 10e-15 * 0.8 ** 2
    assert e.dissipated_J == pytest.approx(half_cv2, rel=0.01)
    assert e.input_charge_J == pytest.approx(half_cv2, rel=1e-12)
    assert e.latency_s == pytest.approx(20 * 1e-9) and e.speedup > 1


def test_time_scaling_scales_latency_and_keeps_readout(trained, moons):
    alpha = 3.0
    scaled = trained.copy()
    scaled.capacitance = alpha
    for s in scaled.slices:
        s.duration *= alpha
    x = moons.x_test[:20]
    np.testing.assert_allclose(ideal_readout(scaled, x), ideal_readout(trained, x), atol=1e-5)
    cfg = ChipConfig()
    assert cfg.latency_s(scaled) == pytest.approx(alpha * cfg.latency_s(trained))
    # and the physical capacitor value does the same on its own
    assert ChipConfig(cap_fF=30.0).latency_s(trained) == pytest.approx(alpha * cfg.latency_s(trained))


def test_noise_aware_training_option(moons):
    preset = preset_for("moons")
    base = KirchhoffNet(build_circuit(preset), preset.solver)
    noisy = KirchhoffNet(build_circuit(preset), preset.solver)
    Trainer(base, moons, preset.train).run(1)
    t = Trainer(noisy, moons, TrainConfig(**{**preset.train.to_dict(), "mismatch": 0.1}))
    t.run(1)
    assert t.history[-1].train_loss < 0.7
    assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), noisy.parameters()))
    with pytest.raises(ValueError, match="mismatch"):
        TrainConfig(mismatch=1.5)


@pytest.mark.parametrize("bad", [{"cap_fF": 0}, {"adc_bits": 0}, {"rail_mode": "hard"}, {"jitter": -1}])
def test_config_validation(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ChipConfig(**bad)


def test_cli_chip_report(tmp_path, trained):
    import subprocess
    import sys
    from kirchhoff_core.io import save_circuit
    save_circuit(trained, tmp_path / "c.json")
    out = subprocess.run([sys.executable, "-m", "kirchhoff_core", "chip", str(tmp_path / "c.json"), "--samples", "200",
                          "--chips", "3", "--mismatch", "0.05", "--adc-bits", "6"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "latency 1 ns" in out.stdout and '"chips": 3' in out.stdout
    bad = subprocess.run([sys.executable, "-m", "kirchhoff_core", "chip", str(tmp_path / "c.json"), "--adc-bits", "99"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "adc_bits" in bad.stderr and "Traceback" not in bad.stderr
