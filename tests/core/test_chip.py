"""The simulated chip: ideal when everything is off, each non-ideality does what it says."""

import os

import numpy as np
import pytest
import torch

from kirchhoff_core.chip import ChipConfig, ChipInstance, adc_lsb, energy, monte_carlo, quantise
from kirchhoff_core.circuit import Circuit, make_slice
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.solvers import SolverConfig, SolverError, work_budget
from kirchhoff_core.train import TrainConfig, Trainer


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These circuits are tiny: a second intra-op thread only contends (on a busy 2-core machine a
    chip evaluation took 2-4x longer with two threads, with multi-second stalls)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def moons():
    return make_dataset("moons", 200, seed=0)


@pytest.fixture(scope="module")
def trained(moons):
    preset = preset_for("moons")
    model = KirchhoffNet(build_circuit(preset), preset.solver)
    Trainer(model, moons, preset.train).run(4)
    return model.to_circuit()


ONE_THREAD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # the CLI in a subprocess: one thread, see above


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


def test_sde_evaluations_count_against_the_solver_limits(trained, moons):
    """The noisy transient's evaluations are bounded like the ODE's: per solve (max_nfe) and per
    enclosing work budget."""
    x = moons.x_test[:2]
    noisy = ChipConfig(thermal_noise=True, sde_steps=500)  # 2 evaluations per Heun step and slice
    with pytest.raises(SolverError, match="max_nfe"):
        ChipInstance(trained, noisy, solver=SolverConfig(rtol=1e-6, atol=1e-6, max_nfe=100)).read_out(x)
    chip = ChipInstance(trained, noisy, solver=SolverConfig(rtol=1e-6, atol=1e-6, max_total_nfe=100))
    with pytest.raises(SolverError, match="max_total_nfe"), work_budget(chip.model.solver, "this test"):
        chip.read_out(x)


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
                         capture_output=True, text=True, timeout=300, env=ONE_THREAD_ENV)
    assert out.returncode == 0, out.stderr
    assert "latency 1 ns" in out.stdout and '"chips": 3' in out.stdout
    bad = subprocess.run([sys.executable, "-m", "kirchhoff_core", "chip", str(tmp_path / "c.json"), "--adc-bits", "99"],
                         capture_output=True, text=True, timeout=300, env=ONE_THREAD_ENV)
    assert bad.returncode == 2 and "adc_bits" in bad.stderr and "Traceback" not in bad.stderr


# --- transient, ADC codes, robustness curves (the Chip page's core) --------------------------------

from dataclasses import replace  # noqa: E402

from kirchhoff_core.chip import (MAX_SWEEP_CHIPS, adc_codes, chip_metric, codes_to_volts,  # noqa: E402
                                 robustness_curve, sweep_config)


def test_transient_ends_where_the_read_out_samples(trained, moons):
    x = moons.x_test[3]
    cfg = ChipConfig(device_mismatch=0.1, cap_mismatch=0.05, cap_fF=20.0)
    inf = ChipInstance(trained, cfg, seed=4).transient(x, points_per_slice=40)
    final = ChipInstance(trained, cfg, seed=4).analog_state(x)[0].numpy()
    assert inf.times_ns.shape == (41,) and inf.volts.shape == inf.ideal.shape == (41, trained.max_width)
    assert inf.times_ns[0] == 0 and inf.times_ns[-1] == pytest.approx(cfg.latency_s(trained) * 1e9)
    assert inf.t_sample_ns == pytest.approx(inf.times_ns[-1])  # no jitter: sampled at T
    np.testing.assert_allclose(inf.volts[-1], final, atol=1e-5)
    np.testing.assert_allclose(inf.sampled, final[[n - 1 for n in trained.outputs]], atol=1e-5)
    np.testing.assert_allclose(inf.ideal_readout, ideal_readout(trained, x[None])[0], atol=1e-5)
    np.testing.assert_allclose(inf.ideal[0, [n - 1 for n in trained.inputs]], x)  # v(0) = the input
    assert np.abs(inf.volts - inf.ideal).max() > 1e-3  # mismatch shows in the trace
    assert inf.codes is None and np.array_equal(inf.readout, inf.sampled)


def test_transient_with_noise_matches_the_noisy_read_out(trained, moons):
    x = moons.x_test[:1]
    cfg = ChipConfig(thermal_noise=True, noise_scale=100.0, sde_steps=100)
    inf = ChipInstance(trained, cfg, seed=9).transient(x[0], points_per_slice=25)
    # same chip seed -> same Brownian path: the read-out does not depend on the scope's time grid
    np.testing.assert_allclose(inf.sampled, ChipInstance(trained, cfg, seed=9).read_out(x)[0], atol=1e-9)
    quiet = ChipInstance(trained, replace(cfg, noise_scale=0.0), seed=9).transient(x[0], points_per_slice=25)
    wiggle = np.abs(np.diff(inf.volts - quiet.volts, axis=0)).max()
    assert wiggle > 1e-3  # the noise is in the trace, not only at the end


def test_adc_codes_round_trip_to_the_quantised_volts(trained, moons):
    v = np.linspace(-3, 3, 1001)
    for bits in (1, 3, 8):
        codes = adc_codes(v, bits, 2.0)
        assert codes.dtype.kind == "i" and codes.min() == 0 and codes.max() == 2 ** bits - 1
        np.testing.assert_array_equal(codes_to_volts(codes, bits, 2.0), quantise(v, bits, 2.0))
        assert np.all(np.diff(codes) >= 0)
    cfg = ChipConfig(adc_bits=5, adc_range=3.0, readout_offset=0.02, jitter=0.1)
    chip = ChipInstance(trained, cfg, seed=2)
    inf = chip.transient(moons.x_test[0], points_per_slice=20)
    np.testing.assert_array_equal(inf.codes, adc_codes(inf.sampled + chip.readout_offset, 5, 3.0))
    np.testing.assert_array_equal(inf.readout, codes_to_volts(inf.codes, 5, 3.0))
    assert inf.t_sample_ns != pytest.approx(inf.times_ns[-1])  # jitter moved the sampling instant


def test_transient_rails_and_multi_slice_stitching():
    c = Circuit(3, [make_slice(0.5, [(1, 2), (2, 3), (3, 0)], "ShiftTanh2", params=np.full((3, 3), 0.8)),
                    make_slice(0.5, [(2, 1), (1, 0)], "ShiftTanh2", params=np.full((2, 3), -0.6))],
                inputs=[1], outputs=[3])
    inf = ChipInstance(c, ChipConfig(supply=0.3)).transient(np.array([1.5]), points_per_slice=10)
    assert inf.times_ns.shape == (21,) and np.all(np.diff(inf.times_ns) > 0)
    assert inf.boundaries_ns == pytest.approx([0.0, 0.5, 1.0])
    assert np.nanmax(np.abs(inf.volts)) <= 0.3 + 1e-12 and np.abs(inf.ideal).max() > 0.3
    with pytest.raises(ValueError, match="points_per_slice"):
        ChipInstance(c).transient(np.array([1.0]), points_per_slice=0)


def test_robustness_curve_is_the_monte_carlo_of_each_setting(trained, moons):
    curve = robustness_curve(trained, moons, ChipConfig(), "device_mismatch", [0.0, 0.3], chips=3, seed=5)
    zero, big = curve.results
    assert np.all(zero.values == curve.ideal) and zero.summary()["std"] == 0
    again = monte_carlo(trained, moons, ChipConfig(device_mismatch=0.3), chips=3, seed=5)
    np.testing.assert_array_equal(big.values, again.values)  # same chips as a plain Monte Carlo
    assert [r["device_mismatch"] for r in curve.rows()] == [0.0, 0.3]
    bits = robustness_curve(trained, moons, ChipConfig(adc_range=4.0), "adc_bits", [1.0, 8], chips=1)
    assert bits.values == [1, 8]
    for b, r in zip(bits.values, bits.results):
        assert r.values[0] == chip_metric(ChipInstance(trained, ChipConfig(adc_range=4.0, adc_bits=b)), moons)


def test_sweep_validation():
    assert sweep_config(ChipConfig(), "adc_bits", 6.0).adc_bits == 6
    assert sweep_config(ChipConfig(), "noise_scale", 10).thermal_noise
    assert not sweep_config(ChipConfig(thermal_noise=True), "noise_scale", 0).thermal_noise
    with pytest.raises(ValueError, match="cannot be swept"):
        sweep_config(ChipConfig(), "cap_fF_typo", 1)
    with pytest.raises(ValueError, match="adc_bits"):
        sweep_config(ChipConfig(), "adc_bits", 6.5)
    with pytest.raises(ValueError, match="cap_mismatch"):
        sweep_config(ChipConfig(), "cap_mismatch", 0.5)
    c = Circuit(1, [make_slice(1.0, [(1, 0)], "Conductance", params=np.array([[1.0, 0, 0]]))], inputs=[1], outputs=[1])
    data = make_dataset("sine", 20, seed=0)
    with pytest.raises(ValueError, match="at most"):
        robustness_curve(c, data, ChipConfig(), "jitter", [0.0, 0.1, 0.2], chips=MAX_SWEEP_CHIPS // 2)


def test_monte_carlo_time_budget_and_progress(trained, moons):
    seen = []
    r = monte_carlo(trained, moons, ChipConfig(device_mismatch=0.05), chips=4, seed=1,
                    progress=lambda i, n: seen.append((i, n)), time_budget_s=1e-9)
    assert len(r.values) == 1 and r.requested == 4 and not r.complete and seen == [(1, 4)]
    full = monte_carlo(trained, moons, ChipConfig(device_mismatch=0.05), chips=4, seed=1)
    assert full.complete and full.values[0] == r.values[0]
    with pytest.raises(ValueError, match="time_budget_s"):
        monte_carlo(trained, moons, ChipConfig(), chips=2, time_budget_s=0)


def test_energy_wall_time_with_the_training_solver(trained, moons):
    fine = energy(trained, moons.x_test[0], ChipConfig())
    fast = energy(trained, moons.x_test[0], ChipConfig(), wall_solver=SolverConfig(rtol=1e-3, atol=1e-3))
    assert fast.total_J == fine.total_J and fast.wall_time_s > 0 and fast.speedup > 1


def test_energy_times_the_gpu_only_when_there_is_one(trained, moons):
    e = energy(trained, moons.x_test[0], ChipConfig(), gpu=False)
    assert e.gpu_wall_time_s is None and e.gpu_speedup is None
    auto = energy(trained, moons.x_test[0], ChipConfig())
    assert (auto.gpu_wall_time_s is not None) == torch.cuda.is_available()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")
def test_energy_gpu_wall_time(trained, moons):
    e = energy(trained, moons.x_test[0], ChipConfig(), gpu=True)
    assert e.gpu_wall_time_s > 0 and e.gpu_speedup == pytest.approx(e.gpu_wall_time_s / e.latency_s)


def test_cli_chip_sweep(tmp_path, trained, capsys):
    from kirchhoff_core.cli import main
    from kirchhoff_core.io import save_circuit
    save_circuit(trained, tmp_path / "c.json")
    base = ["chip", str(tmp_path / "c.json"), "--samples", "100", "--chips", "2"]
    assert main(base + ["--sweep", "device_mismatch=0,0.2", "--sweep", "adc-bits=2,8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("device_mismatch,ideal,mean,std,p5,p50,worst,chips")
    zero = lines[start + 1].split(",")
    assert zero[0] == "0" and zero[1] == zero[2] and zero[-1] == "2"  # sigma 0: every chip is ideal
    assert lines[start + 2].startswith("0.2,") and "adc_bits,ideal,mean,std,p5,p50,worst,chips" in lines
    assert main(base + ["--sweep", "adc_bits=4.5"]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("error: adc_bits") and "Monte Carlo" not in out.out  # rejected before simulating
    assert main(base + ["--sweep", "device_mismatch"]) == 2 and "FIELD=V1,V2" in capsys.readouterr().err
