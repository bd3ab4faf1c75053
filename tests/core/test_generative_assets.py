"""The pretrained generative circuits in assets/generative/: one per 2-D target, each loads as a
flow and beats the Gaussian fit on fresh samples (so a class sees a trained model, not noise)."""

from __future__ import annotations

import pathlib

import pytest
import torch

from kirchhoff_core.densities import TARGETS, sample_target
from kirchhoff_core.generative import CircuitFlow, gaussian_baseline_nll
from kirchhoff_core.io import load_checkpoint
from kirchhoff_core.solvers import SolverConfig

ASSETS = pathlib.Path(__file__).resolve().parents[2] / "assets" / "generative"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_pretrained_flow_beats_the_gaussian_fit(target):
    circuit, extra = load_checkpoint(ASSETS / f"{target}.json")
    assert extra["training"]["target"] == target
    flow = CircuitFlow(circuit, SolverConfig(rtol=1e-4, atol=1e-4))
    x = sample_target(target, 1000, seed=12345)  # fresh points, not the training stream's
    with torch.no_grad():
        nll = float(-flow.log_prob(torch.as_tensor(x, dtype=torch.float32)).mean())
    assert nll < gaussian_baseline_nll(x) - 0.1, (target, nll)
