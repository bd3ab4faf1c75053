"""Build page: export (JSON, GraphML), import (uploads, never unpickled) and the shipped examples."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from components.build_common import ERRORS, commit, describe
from kirchhoff_core import io
from kirchhoff_core.circuit import Circuit
from settings import examples
from state import Session
from uploads import load_upload

K = "build_"
LAZY_JSON, LAZY_GRAPHML = 20_000, 1_000  # devices; above these the download is built only when clicked


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "circuit"


def _export(circuit: Circuit) -> None:
    st.markdown("**Export**")
    stem, c = _slug(circuit.name), circuit  # big files are built only when their button is clicked
    json_data: Any = (lambda: io.dumps_circuit(c)) if c.num_devices > LAZY_JSON else io.dumps_circuit(c)
    graphml_data: Any = (lambda: io.to_graphml(c)) if c.num_devices > LAZY_GRAPHML else io.to_graphml(c)
    c1, c2 = st.columns(2)
    c1.download_button("Circuit JSON", json_data, f"{stem}.json", "application/json", key=K + "dl_json",
                       on_click="ignore", icon=":material/download:")
    c2.download_button("GraphML", graphml_data, f"{stem}.graphml", "application/xml", key=K + "dl_graphml",
                       on_click="ignore", icon=":material/download:",
                       help="for graph tools (Gephi, yEd, networkx); parameters become p0..p2 edge attributes")


def _import(session: Session) -> None:
    b = session.build
    st.markdown("**Import**")
    files = st.file_uploader("Circuit .json (with its .safetensors weights, if any) or .graphml",
                             type=["json", "graphml", "xml", "safetensors"], accept_multiple_files=True,
                             key=f"{K}upload_{b.upload_version}",
                             help="Drop the .json together with its .safetensors file when it has one; pickled "
                                  "files are never opened. After each upload the box empties for the next one.")
    if files:
        names = ", ".join(f.name for f in files)
        b.upload_version += 1  # the next run shows an empty box: a later upload is judged on its own
        try:
            new = load_upload([(f.name, f.getvalue()) for f in files])
        except ERRORS as e:
            b.upload_error = f"{names} not loaded — {e}. The previous circuit is unchanged."
            st.rerun()
        b.upload_error = None
        commit(session, new, f"Loaded {describe(new)} from {names}.", fresh=True)
    if b.upload_error:
        st.error(b.upload_error)


def _examples(session: Session) -> None:
    shipped = {stem.replace("_", " "): stem for stem in examples()}
    if not shipped:
        return
    st.markdown("**Examples**")
    c1, c2 = st.columns([3, 1])
    choice = c1.selectbox("Example circuit", list(shipped), key=K + "example", label_visibility="collapsed")
    stem = shipped.get(choice)
    if c2.button("Load", key=K + "load_example"):
        try:
            new = io.load_circuit(examples()[stem])
        except ERRORS as e:
            st.error(str(e))
        else:
            commit(session, new, f"Loaded example {describe(new)}.", fresh=True, example=stem)
    if stem is not None:
        try:
            description = io.load_checkpoint(examples()[stem])[0].meta.get("description")
        except ERRORS:
            description = None
        if description:
            st.caption(description)


def io_section(session: Session, circuit: Circuit) -> None:
    _export(circuit)
    _import(session)
    _examples(session)
