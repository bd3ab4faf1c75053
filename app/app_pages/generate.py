"""Generate page: a circuit as a continuous normalising flow, trained live.

Two tasks: "Generate (flow)" fits a 2-D data set by maximum likelihood (the circuit carries
Gaussian noise at t = 0 to the data at T), "Match a density" fits exp(-U) of a Rezende-Mohamed
potential by reverse KL. The page's state is ``session.generate``; ``generate_model`` builds the
flow and trainer and holds the callbacks, ``generate_live`` draws, and the play controller plays it
one optimiser step at a time. Control groups a classroom link can hide: target, circuit,
hyperparameters, solver, io.
"""

from __future__ import annotations

import streamlit as st

import state
from components import generate_files, generate_live, guard_rails
from components import generate_model as gm
from components.common import page_header, share_link
from components.guard_rails import number
from kirchhoff_core.densities import POTENTIALS, TARGETS
from kirchhoff_core.devices import KINDS, display_name
from live import live_fragment, play_bar
from state import bound

TASK_LABELS = {"generate": "Generate (flow)", "density": "Match a density"}
TOLS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]

session = state.get_session()
g = session.generate
gm.ensure_trainer(g)
s = g.settings
hidden = state.hidden(session)

page_header(session, "generate", "Generate",
            "A circuit as a generative model: Gaussian noise goes in as the initial voltages of two nodes, and the "
            "transient carries it to the data by time T. Kirchhoff's current law makes the change of volume cheap "
            "to follow (the trace of the Jacobian is a sum over devices), so the exact likelihood of every point is "
            "known and training maximises it.", g.messages)

if "target" not in hidden:
    top = st.columns([1.2, 3, 1.1, 1.1], vertical_alignment="bottom")
    bound(top[0].radio, "Task", list(TASK_LABELS), key="gen_task", value=s.task, on_set=lambda v: gm.set_task(g, v),
          format_func=TASK_LABELS.get, help="Generate: fit samples of a data set by maximum likelihood. Match a "
          "density: fit exp(-U) of a potential by reverse KL, from noise alone.")
    if s.task == "generate":
        bound(top[1].radio, "Target data set", list(TARGETS), key="gen_target", value=s.target, horizontal=True,
              on_set=lambda v: gm.set_target(g, "target", v))
    else:
        bound(top[1].radio, "Target potential", list(POTENTIALS), key="gen_potential", value=s.potential,
              horizontal=True, on_set=lambda v: gm.set_target(g, "potential", v),
              help="The Rezende-Mohamed potentials: U1 a ring with two lobes, U2 a sine, U3 a split sine, "
                   "U4 a sine with a step")
    top[2].button("Load pretrained", key="gen_pretrained", on_click=gm.load_pretrained, args=(g,),
                  icon=":material/download:", width="stretch",
                  help=f"Load the circuit trained for {s.name} that ships with the playground (assets/generative/)")
    top[3].button("Paper's circuit", key="gen_preset", on_click=gm.use_preset, args=(g,), icon=":material/restart_alt:",
                  width="stretch", help=f"The reference circuit for {s.name}: devices per pair, slices, duration, kind")
else:
    st.caption(f"Target: **{s.name}** (fixed by the link)")

player = gm.player(g)
c = g.circuit
source = f"pretrained ({s.name}.json)" if s.pretrained else "fully connected, 2 nodes + ground"
play_bar(player, g.run, f"{source} · {c.num_devices} devices · {c.num_parameters} parameters · "
                        f"{len(c.slices)} slice(s) · T = {c.t_end:g}")


def _repeats(col) -> None:
    label = next((k for k, v in gm.REPEATS.items() if v == tuple(s.repeats)), None)
    bound(col.selectbox, "Devices per pair", list(gm.REPEATS), key="gen_repeats", value=label,
          on_set=lambda v: gm.set_circuit(g, "repeats", v), placeholder="custom",
          help="[r0, r1]: r0 devices i→j and r1 devices j→i between every pair of nodes (ground "
               "included). The paper used [25, 25] (300 devices per slice) and [10, 10] (120).")


CONTROLS = [  # (group, column width, draw into a column)
    ("circuit", 1.3, _repeats),
    ("circuit", 0.8, lambda col: number(col, "Slices", 1, 32, key="gen_slices", value=int(s.num_slices),
                                        on_set=lambda v: gm.set_circuit(g, "num_slices", v), messages=g.messages,
                                        help="Time slices (layers), each with its own devices")),
    ("circuit", 1.0, lambda col: number(col, "Slice duration", 0.05, 5.0, step=0.05, key="gen_duration",
                                        value=float(s.duration), format="%g", messages=g.messages,
                                        on_set=lambda v: gm.set_circuit(g, "duration", v))),
    ("circuit", 1.7, lambda col: bound(col.selectbox, "Device kind", list(KINDS), key="gen_kind", value=s.kind,
                                       on_set=lambda v: gm.set_circuit(g, "kind", v), format_func=display_name)),
    ("hyperparameters", 1.15, lambda col: number(col, "Learning rate", 1e-5, 1.0, step=0.005, key="gen_lr",
                                                 value=float(s.lr), format="%g", on_set=lambda v: gm.set_lr(g, v),
                                                 messages=g.messages, help="Takes effect at once, without a restart")),
    ("hyperparameters", 0.9, lambda col: number(col, "Batch size", 1, 4096, step=64, key="gen_bs",
                                                value=int(s.batch_size), messages=g.messages,
                                                on_set=lambda v: gm.set_run(g, "batch_size", v),
                                                help="Fresh samples (or noise draws) per step")),
    ("solver", 1.3, lambda col: bound(col.select_slider, "Solver tolerance", sorted(set(TOLS) | {float(s.tol)}, reverse=True),
                                      key="gen_tol", value=float(s.tol), format_func=lambda v: f"{v:g}",
                                      on_set=lambda v: gm.set_tol(g, v),
                                      help="dopri5 rtol = atol; takes effect at once (the paper: 1e-4)")),
    ("hyperparameters", 0.8, lambda col: bound(col.number_input, "Seed", 0, 2**31 - 1, key="gen_seed", value=int(s.seed),
                                               on_set=lambda v: gm.set_run(g, "seed", v),
                                               help="Initial parameters, batches and the held-out set")),
]
shown = [(width, draw) for group, width, draw in CONTROLS if group not in hidden]
if shown:
    for col, (_, draw) in zip(st.columns([w for w, _ in shown]), shown):
        draw(col)
    st.caption("Changing the circuit, batch size or seed restarts training at step 0; the learning rate and the "
               "tolerance apply at once.")
guard_rails.advice(gm.setup_advice(g), {"lr": lambda v: gm.set_lr(g, v)}, "gen_guard")

live_fragment(player, g.run, lambda snap: generate_live.draw(g, snap))
generate_live.flow_section(g)

query = state.publish(session, "generate")
if "io" not in hidden:
    st.divider()
    save = st.columns([1, 1.6, 1.4], vertical_alignment="center")
    save[0].download_button("Download the circuit (JSON)",
                            data=lambda: generate_files.model_json(g.run, g.circuit, s, g.evals),
                            file_name=f"kirchhoffnet-flow-{s.name}.json", mime="application/json", on_click="ignore",
                            key="gen_download")
    save[1].caption("The circuit with its current parameters and the run's history. Saved as "
                    f"assets/generative/{s.name}.json it becomes the pretrained circuit for {s.name}.")
    with save[2]:
        share_link(query, "generate", "the target, the circuit and the run's settings (and the pretrained start)")
