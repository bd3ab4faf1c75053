"""The Generate page's learning-curve figure: the reference, Gaussian-fit and entropy-floor lines."""

from __future__ import annotations

import numpy as np

from views import generate_views as gv


def _lines(fig) -> dict[str, float]:
    """Horizontal lines by the first word of their annotation -> y."""
    texts = [a.text for a in fig.layout.annotations]
    ys = [s.y0 for s in fig.layout.shapes]
    return {t.split()[0]: y for t, y in zip(texts, ys)}


def test_curves_show_the_paper_the_gaussian_fit_and_the_entropy_floor():
    steps = np.arange(1, 11)
    nll = np.linspace(3.0, 1.1, 10)
    fig = gv.curves_figure(steps, nll, steps[::2], nll[::2], "nll", reference=1.011, baseline=1.909, floor=1.0076)
    assert _lines(fig) == {"paper": 1.011, "Gaussian": 1.909, "best": 1.0076}
    lo, hi = fig.layout.yaxis.range
    assert lo < 1.0076 < 1.1 < hi  # the floor stays in view under the curves


def test_curves_without_reference_lines():
    steps = np.arange(1, 4)
    fig = gv.curves_figure(steps, np.array([0.5, 0.4, 0.3]), steps, np.array([0.5, 0.4, 0.3]), "kl")
    assert not fig.layout.shapes and fig.layout.yaxis.title.text == "KL estimate (nats)"


def test_the_paper_line_says_it_is_a_training_loss_and_why_it_can_beat_the_entropy():
    from kirchhoff_core.generative import flow_preset
    from kirchhoff_core.target_density import target_entropy

    spirals = flow_preset("2spirals")
    floor = target_entropy("2spirals")
    assert spirals.reference_nll < floor and spirals.reference_points == 512  # the case a researcher asked about
    steps = np.arange(1, 4)
    fig = gv.curves_figure(steps, np.array([3.0, 2.9, 2.8]), steps, np.array([3.0, 2.9, 2.8]), "nll",
                           reference=spirals.reference_nll, floor=floor, reference_points=512)
    paper = next(a for a in fig.layout.annotations if a.text.startswith("paper"))
    assert "training loss" in paper.text and "512 fixed training points" in paper.hovertext
    note = gv.paper_note(spirals.reference_nll, floor, 512)
    assert "one fixed set of 512 points" in note and "fresh samples" in note
    moons = flow_preset("moons")  # above its entropy: nothing to explain
    assert gv.paper_note(moons.reference_nll, target_entropy("moons"), moons.reference_points) is None
