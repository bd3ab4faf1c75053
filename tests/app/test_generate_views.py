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
