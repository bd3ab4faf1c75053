"""Numbers as the pages print them: pure functions, value in, text out."""

from __future__ import annotations

import numpy as np


def metric_text(value: float, metric: str) -> str:
    """An accuracy as a percentage, anything else (R², a loss) with three decimals."""
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.3f}"


def metric_label(metric: str) -> str:
    return "accuracy" if metric == "accuracy" else "R²"


def si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 7.46e-12 J -> '7.46 pJ'."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g} {unit}"
    prefixes = {-18: "a", -15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M"}
    exp = int(np.clip(3 * np.floor(np.log10(abs(value)) / 3), -18, 6))
    return f"{value / 10.0 ** exp:.3g} {prefixes[exp]}{unit}"
