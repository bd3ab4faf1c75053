"""Train page: share the set-up, download the trained circuit with its run, load a circuit back."""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

import state
from components.common import share_link
from kirchhoff_core import io as kio
from kirchhoff_core.live_views import export
from state import Session


def new_upload(session: Session, label: str, types: list[str], key: str):
    """The file just uploaded to this box, once (later reruns do not load it again); else None."""
    upload = st.file_uploader(label, type=types, key=key)
    if upload is None or upload.file_id in session.train.seen_uploads:
        return None
    session.train.seen_uploads.add(upload.file_id)
    return upload


def model_json(session: Session) -> str:
    """The download: the circuit with the current (trained) parameters plus the run's settings and history."""
    c = session.config
    dataset = {"name": c.dataset, "n_samples": c.n_samples, "noise": c.noise, "test_fraction": c.test_fraction,
               "seed": c.seed}
    fields = dict(dataset=dataset, extra={"settings": asdict(c)})
    run = session.train.run
    circuit, record = state.current_circuit(session)[0], kio.TrainingRecord(**fields)
    if run.active:
        try:
            circuit, record = run.call(export, fields)
        except (RuntimeError, TimeoutError):
            pass  # its worker has gone: the last circuit it published, without the record
    return kio.dumps_circuit(circuit, training=record)


def share_and_save(session: Session, query: dict[str, str]) -> None:
    st.divider()
    st.subheader("Share & save")
    io_cols = st.columns([1.4, 1, 1])
    with io_cols[0]:
        share_link(query, "train", "the dataset, generator and hyperparameters (not hand edits or drawn points; "
                                   "download the model for those)")
    with io_cols[1]:
        st.download_button("Download model (JSON)", data=lambda: model_json(session),
                           file_name="kirchhoffnet-trained.json", mime="application/json", on_click="ignore",
                           key="train_download")
        st.caption("Circuit with the current parameters, plus the training settings and history.")
    with io_cols[2]:
        model_file = new_upload(session, "Load a model (JSON)", ["json"], "train_model_upload")
        if model_file is not None:
            try:
                loaded = kio.loads_circuit(model_file.getvalue())
            except ValueError as e:
                st.error(f"{model_file.name}: {e} (the previous circuit is unchanged)")
            else:
                state.set_circuit(session, loaded, keep_run=True)
                session.train.run.playing = False
                session.train.messages.note(f"Loaded {model_file.name}: {loaded.num_nodes} nodes, "
                                            f"{loaded.num_devices} devices. Training starts from its parameters.")
                st.rerun()
