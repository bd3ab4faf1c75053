"""Build page: the generator form (every topology's own parameters, then the common ones)."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from components.build_common import ERRORS, commit, describe
from kirchhoff_core.devices import KINDS, display_name
from kirchhoff_core.generators import COMMON_PARAMS, GENERATORS, ParamSpec, generate
from state import Session

K = "build_"


def _int(x: float | None) -> int | None:
    return None if x is None else int(x)


def _param_widget(p: ParamSpec, value: Any, key: str) -> Any:
    """One form widget for a generator parameter; int_list comes back as text (parsed on submit)."""
    label, help_text = p.name.replace("_", " "), p.help or None
    if p.type is bool:
        return st.checkbox(label, value=bool(value), key=key, help=help_text)
    if p.type is int:
        return st.number_input(label, min_value=_int(p.min), max_value=_int(p.max),
                               value=None if value is None else int(value), step=1, key=key, help=help_text)
    if p.type is float:
        return st.number_input(label, min_value=None if p.min is None else float(p.min),
                               max_value=None if p.max is None else float(p.max), value=float(value),
                               format="%g", step=0.05 if (p.max or 10) <= 1 else 0.1, key=key, help=help_text)
    if p.type == "int_pair":
        a, b = (list(value) + [0, 0])[:2]
        left, right = st.columns(2)
        return [left.number_input(f"{label} (forward)", _int(p.min), _int(p.max), int(a), 1, key=key + "_0",
                                  help=help_text),
                right.number_input(f"{label} (backward)", _int(p.min), _int(p.max), int(b), 1, key=key + "_1")]
    if p.type == "int_list":
        text = "" if value is None else ", ".join(str(int(v)) for v in value)
        return st.text_input(f"{label} (comma-separated)", text, key=key, help=help_text)
    if p.choices:
        return st.selectbox(label, list(p.choices), index=list(p.choices).index(value), key=key, help=help_text)
    if p.name == "edges":
        return st.text_area(label, value or "", key=key, help=help_text, height=80)
    return st.text_input(label, value or "", key=key, help=help_text)


def _parse_int_list(p: ParamSpec, text: str) -> list[int] | None:
    if not text.strip():
        if p.default is None:
            return None
        raise ValueError(f"{p.name}: give at least one whole number, e.g. 2, 4, 2")
    try:
        return [int(x) for x in re.split(r"[,;\s]+", text.strip()) if x]
    except ValueError:
        raise ValueError(f"{p.name}: write whole numbers separated by commas, e.g. 2, 4, 2 (got {text!r})") from None


def _plain_default(p: ParamSpec) -> Any:
    return list(p.default) if isinstance(p.default, tuple) else p.default


def generate_section(session: Session) -> None:
    cfg = session.config
    names = list(GENERATORS)
    name = st.selectbox("Generator", names, index=names.index(cfg.generator) if cfg.generator in names else 0,
                        key=K + "gen_name", format_func=lambda n: n.replace("_", " "))
    spec = GENERATORS[name]
    st.caption(spec.description)
    base = dict(cfg.generator_params) if name == cfg.generator else {}
    common = {p.name: p for p in COMMON_PARAMS}
    if "inputs" in base and "n_inputs" not in base:
        base["n_inputs"] = len(base["inputs"])
    if "outputs" in base and "n_outputs" not in base:
        base["n_outputs"] = len(base["outputs"])
    raw: dict[str, Any] = {}
    with st.form(K + "gen_form", border=False):
        for p in spec.params:
            raw[p.name] = _param_widget(p, base.get(p.name, p.default), f"{K}gen_{name}_{p.name}")
        c1, c2 = st.columns(2)
        with c1:
            raw["kind"] = st.selectbox("device kind", list(KINDS), index=list(KINDS).index(base.get("kind", "ShiftTanh2")),
                                       format_func=display_name, key=f"{K}gen_{name}_kind",
                                       help=common["kind"].help)
            raw["num_slices"] = _param_widget(common["num_slices"], base.get("num_slices", 1), f"{K}gen_{name}_num_slices")
        with c2:
            raw["seed"] = _param_widget(common["seed"], base.get("seed", 0), f"{K}gen_{name}_seed")
            raw["duration"] = _param_widget(common["duration"], base.get("duration", 1.0), f"{K}gen_{name}_duration")
        with st.expander("Inputs, read-outs, capacitance, initial gain"):
            for pname in ("n_inputs", "n_outputs", "capacitance", "gain"):
                raw[pname] = _param_widget(common[pname], base.get(pname, common[pname].default),
                                           f"{K}gen_{name}_{pname}")
        submitted = st.form_submit_button("Generate", type="primary")
    if not submitted:
        return
    specs = {p.name: p for p in spec.params + COMMON_PARAMS}
    try:
        params = {k: _parse_int_list(specs[k], v) if specs[k].type == "int_list" else v for k, v in raw.items()}
        params = {k: v for k, v in params.items() if v != _plain_default(specs[k])}
        new = generate(name, **params)
    except ERRORS as e:
        st.error(str(e))
        return
    cfg.generator, cfg.generator_params = name, params
    commit(session, new, f"Generated {describe(new)}.", fresh=True)
