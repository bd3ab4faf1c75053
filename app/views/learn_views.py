"""Text, tables and LaTeX for the Learn page: pure functions, circuit (and core results) in, strings out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kirchhoff_core.analysis import NodeBalance
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.devices import KINDS

KCL_GENERAL = (r"C_n \frac{dv_n}{dt} \;=\; \sum_{e\,:\,d_e = n} I_e \;-\; \sum_{e\,:\,s_e = n} I_e,"
               r"\qquad I_e = g_e(v_{s_e}, v_{d_e};\, \theta_e)")


def _num(x: float) -> str:
    return f"{x:.3g}"


def substitute(formula: str, params: list[float], src: int, dst: int) -> str:
    """A device law with its parameters and node voltages filled in, e.g. ``\\tanh(0.31 v_{1} ...)``."""
    s = formula.replace("v_s", f"v_{{{src}}}").replace("v_d", f"v_{{{dst}}}")
    for i, p in enumerate(params):
        s = s.replace(f"p_{i}", _num(p))
    return s.replace("+ -", "- ").replace("- -", "+ ")


@dataclass
class Term:
    device: int
    src: int
    dst: int
    kind: str
    params: list[float]
    latex: str


def node_terms(circuit: Circuit, slice_index: int, node: int) -> tuple[list[Term], list[Term]]:
    """Devices of one slice whose current flows into ``node`` (dst) and out of it (src)."""
    into, out = [], []
    for j, d in enumerate(circuit.slices[slice_index].devices()):
        if node not in (d["src"], d["dst"]):
            continue
        t = Term(j, d["src"], d["dst"], d["kind"], d["params"],
                 substitute(KINDS[d["kind"]].formula, d["params"], d["src"], d["dst"]))
        (into if d["dst"] == node else out).append(t)
    return into, out


def kcl_latex(circuit: Circuit, slice_index: int, node: int, max_terms: int = 8) -> str:
    """The KCL equation of ``node`` with this circuit's devices and numbers, one term per line."""
    into, out = node_terms(circuit, slice_index, node)
    cap = circuit.capacitances(circuit.width(slice_index))[node - 1]
    lines = []
    for sign, terms in (("+", into), ("-", out)):
        for t in terms[:max_terms]:
            lines.append(rf"{sign}\; {t.latex} && \text{{{t.kind}, device {t.device}:}}\ {t.src} \to {t.dst}")
        if len(terms) > max_terms:
            more = len(terms) - max_terms
            lines.append(rf"{sign}\; \dots && \text{{{more} more device{'s' if more > 1 else ''}}}")
    if not lines:
        lines = [r"0 && \text{no device touches this node: its voltage stays put}"]
    head = rf"{_num(cap)}\,\frac{{dv_{{{node}}}}}{{dt}} \;=\;& "
    return r"\begin{aligned}" + head + r" \\ &".join(lines) + r"\end{aligned}"


def device_table_markdown() -> str:
    """All device families as a Markdown table with their laws in inline LaTeX."""
    rows = ["| kind | what it is | parameters | passive | current $I = g(v_s, v_d)$ |",
            "|---|---|---|---|---|"]
    for k in KINDS.values():
        params = ", ".join(f"$p_{i}$" for i in range(k.n_params))
        formula = k.formula.replace("|", r"\vert ")  # a bare | would end the Markdown table cell
        rows.append(f"| `{k.name}` | {k.label} | {params} | {'yes' if k.passive else 'no'} | ${formula}$ |")
    return "\n".join(rows)


def balance_rows(circuit: Circuit, slice_index: int, balance: NodeBalance) -> list[dict]:
    """One row per device at the node: its terminals' voltages, its current and what it adds to the node."""
    s, v = circuit.slices[slice_index], np.concatenate([[0.0], balance.voltages])
    rows = []
    for j, current, sign in zip(balance.devices.tolist(), balance.currents.tolist(), balance.signs.tolist()):
        src, dst = int(s.src[j]), int(s.dst[j])
        rows.append({"direction": "in" if sign > 0 else "out", "device": j, "from → to": f"{src} → {dst}",
                     "kind": str(s.kind[j]), "v_from (V)": v[src], "v_to (V)": v[dst], "current I": current,
                     "adds to the node": sign * current})
    return rows


def balance_latex(balance: NodeBalance, max_terms: int = 8) -> str:
    """C dv/dt = each device's contribution (+I flowing in, -I flowing out) ... = their sum, in numbers."""
    terms = [f"{sign * i:+.4g}" for i, sign in zip(balance.currents.tolist(), balance.signs.tolist())]
    more = len(terms) - max_terms
    shown = " ".join(terms[:max_terms]) + (rf" \;\dots\;(\text{{{more} more}})" if more > 0 else "")
    n, c = balance.node, balance.capacitance
    return (rf"{_num(c)}\,\frac{{dv_{{{n}}}}}{{dt}} \;=\; {shown or '0'} \;=\; {balance.net:.4g}"
            rf"\qquad\Rightarrow\qquad \frac{{dv_{{{n}}}}}{{dt}} = {balance.c_dvdt / c:.4g}")
