"""Device families: analytic partial derivatives match autograd; the passive device is passive."""

import pytest
import torch

from kirchhoff_core.devices import KINDS, display_name, get_kind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_partials_match_autograd(kind):
    k = KINDS[kind]
    g = torch.Generator().manual_seed(0)
    vs = torch.randn(50, 7, dtype=torch.float64, generator=g, requires_grad=True)
    vd = torch.randn(50, 7, dtype=torch.float64, generator=g, requires_grad=True)
    p = torch.randn(7, k.n_params, dtype=torch.float64, generator=g)
    i = k.current(vs, vd, p)
    gs, gd = torch.autograd.grad(i.sum(), (vs, vd))
    ds, dd = k.partials(vs.detach(), vd.detach(), p)
    assert torch.allclose(ds.expand_as(gs), gs, atol=1e-12) and torch.allclose(dd.expand_as(gd), gd, atol=1e-12)


def test_passive_device_never_delivers_power():
    k = KINDS["TanhResistor"]
    assert k.passive
    v = torch.randn(1000, 2, dtype=torch.float64)
    p = torch.randn(1, 2, dtype=torch.float64).expand(1000, 2) * 3
    i = k.current(v[:, 0], v[:, 1], p)
    assert torch.all(i * (v[:, 0] - v[:, 1]) >= 0)
    assert torch.all(k.current(v[:, 0], v[:, 0], p) == 0)


def test_names_and_lookup():
    assert display_name("ShiftRelu1").startswith("ShiftRelu1 — ")
    with pytest.raises(ValueError, match="unknown device kind 'Diode'"):
        get_kind("Diode")
    assert [KINDS[n].n_params for n in ("ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "Conductance")] == [3, 2, 2, 1]
