"""This browser session's playground: one typed ``Session`` in ``st.session_state``, shareable by URL.

The session owns the lifecycle every page relies on: the set-up (``settings.Config``, read from the
link once), the circuit (generated, edited, or a loaded example), the dataset (one cached function),
the Train page's trainer and its live run, and each page's own state as a typed dataclass
(``session.generate``, ``session.chip``, ...). Nothing else in the app touches ``st.session_state``:
pages bind widgets to these objects with ``bound`` and write their share link with ``publish``.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from bookkeeping import Memo, Messages, PerDrawing
from kirchhoff_core import io as kio
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.datasets import DATASETS, Dataset, make_dataset, points_to_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.guards import Advice, check_setup
from kirchhoff_core.live import StepRecord
from kirchhoff_core.live_views import SupervisedView, build_supervised, supervised_view
from kirchhoff_core.presets import preset_for
from kirchhoff_core.runs import RunHistory
from kirchhoff_core.sweeps import LoadedTrial, SweepProcess
from kirchhoff_core.train import Trainer, check_compatible
from live import LiveRun
from settings import (HIDE_GROUPS, HIDEABLE, ChipSettings, Config, GenerateSettings, LearnSettings,  # noqa: F401
                      SpiceSettings, SweepLink, TrajectoryInput, config_from_query, config_to_query, example_record,
                      example_settings, examples, own_from_query, page_to_query, trained_examples)
from sweep_settings import SweepSettings, sweeps_root

SESSION_KEY = "kirchhoff_playground"
CUSTOM = "custom"  # the dataset name of the user's own points
TRAINED_EXAMPLE = "moons_trained"  # the trained circuit pages offer when theirs is untrained
GRID_RES = 40  # the Train page's decision-boundary and node-thumbnail resolution
DRAW_EVERY_S = 1.0
"""While training, the Train page's drawing (and with it every chart; the counters follow every tick) is
refreshed at most this often: each refresh costs the server and every browser a redraw of the charts."""


# --- each page's own state ------------------------------------------------------------------------

@dataclass
class TrainPage:
    """The Train page: its live run of the session's trainer, caches and widget versions."""

    run: LiveRun = field(default_factory=LiveRun)
    messages: Messages = field(default_factory=Messages)
    sig: tuple | None = None  # what the trainer was built from
    mismatch: str | None = None  # why the circuit does not fit the data
    draw_version: int = 0  # bumped to give the drawing canvas and the points table fresh widgets
    editor_version: int = 0
    seen_uploads: set[str] = field(default_factory=set)
    runs: RunHistory = field(default_factory=RunHistory)  # the runs that ended (Reset or a new set-up)
    run_settings: dict[str, Any] = field(default_factory=dict)  # the current run's, from when it started
    compare: list[int] = field(default_factory=list)  # the run numbers the Compare view shows
    advice: tuple | None = None  # (circuit, data, train config, solver config, the guard rails' findings)
    figures: PerDrawing = field(default_factory=PerDrawing)  # the live charts of the latest drawing


@dataclass
class GeneratePage:
    """The Generate page: its settings, its own flow circuit and live run, and what it has computed."""

    settings: GenerateSettings = field(default_factory=lambda: GenerateSettings().with_preset())
    circuit: Circuit | None = None
    run: LiveRun = field(default_factory=LiveRun)
    messages: Messages = field(default_factory=Messages)
    evals: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out metric)
    eval0: float | None = None
    eval0_problem: str | None = None  # why the untrained circuit's held-out metric is missing or not finite
    animation: tuple | None = None
    auto_animate: bool = False
    want_animation: bool = False
    had_steps: int = 0
    field_slice: int = 1
    figures: PerDrawing = field(default_factory=PerDrawing)  # the live charts of the latest drawing

    @property
    def trainer(self):
        return self.run.trainer

    @property
    def playing(self) -> bool:
        return self.run.playing


@dataclass
class ChipPage:
    settings: ChipSettings = field(default_factory=ChipSettings)
    memo: Memo = field(default_factory=Memo)
    mc: tuple | None = None  # (key, Monte Carlo result)
    sweep: tuple | None = None  # (key, robustness curves, ADC range)
    messages: Messages = field(default_factory=Messages)


@dataclass
class TrajectoriesPage:
    choice: TrajectoryInput = field(default_factory=TrajectoryInput)
    x: np.ndarray | None = None  # the input followed, from ``choice`` (or a click)
    x_from: str = ""
    shown_index: int = 0  # the test-set index field's value (kept while typed coordinates are followed)
    pick_version: int = 0
    memo: Memo = field(default_factory=lambda: Memo(12))
    messages: Messages = field(default_factory=Messages)


@dataclass
class NetworkView:
    """The Build page's network view (pyvis): shown or not, and how its nodes are coloured."""

    show: bool | None = None  # None: shown when the drawing gives up
    colour: str = "role"  # or "voltage"
    ground: bool | None = None  # None: drawn for circuits up to 100 nodes
    max_edges: int = 4000
    sample: int = 0  # the test sample whose voltages colour the nodes
    typed: str = ""  # or typed input voltages ("" = 0.5 V on every input)
    t: float | None = None  # None: the end of the slice
    memo: Memo = field(default_factory=lambda: Memo(4))


@dataclass
class BuildPage:
    flash: str | None = None  # what the last change did, shown while its circuit is the session's
    flash_for: Any = None  # that circuit
    figure_version: int = 0  # bumped after a click in the drawing, so the chart forgets its selection
    inspecting: bool = False  # the I-V dialog a click opened is still open
    upload_version: int = 0  # bumped after each processed upload: a fresh, empty upload box
    slice: int = 0
    layout: str = "auto"
    layout_seed: int = 0
    iv_device: dict[int, int] = field(default_factory=dict)  # per slice
    flow_pos: dict = field(default_factory=dict)  # canvas node positions
    flow_fp: str | None = None
    flow_state: Any = None
    flow_seen: int | None = None
    flow_error: str | None = None
    table_nonce: int = 0
    table_key: str = ""  # the live device editor's key (tests find it here)
    upload_error: str | None = None  # the last upload's refusal, shown until the next upload or change
    network: NetworkView = field(default_factory=NetworkView)


@dataclass
class SpicePage:
    settings: SpiceSettings = field(default_factory=SpiceSettings)
    result: tuple | None = None  # (circuit fingerprint, Comparison)
    agreement: tuple | None = None  # (circuit fingerprint, (agreement, spice classes, torch classes))
    messages: Messages = field(default_factory=Messages)


@dataclass
class SweepPage:
    """The Sweep page: the form, the sweep shown (its folder name, in the link), and the sweep this
    session runs in the background (one at a time)."""

    settings: SweepSettings = field(default_factory=SweepSettings)
    link: SweepLink = field(default_factory=SweepLink)
    root: str = field(default_factory=lambda: str(sweeps_root()))
    job: SweepProcess | None = None
    stop_asked: float | None = None  # when Stop was pressed (the driver shuts down on its own)
    colour_by: str | None = None
    pick: int | None = None  # the trial "Open in Train" loads (None: the best)
    memo: Memo = field(default_factory=lambda: Memo(8))
    messages: Messages = field(default_factory=Messages)


@dataclass
class Session:
    """One browser session's playground."""

    config: Config = field(default_factory=Config)
    circuit: Circuit | None = None
    data: Dataset | None = None
    data_key: tuple | None = None
    points_problem: str | None = None  # why the drawn points are not a dataset yet
    custom_points: list[tuple[float, float, int]] = field(default_factory=list)
    points_version: int = 0
    message: str | None = None  # from the link, shown once by the first page
    train: TrainPage = field(default_factory=TrainPage)
    generate: GeneratePage = field(default_factory=GeneratePage)
    chip: ChipPage = field(default_factory=ChipPage)
    trajectories: TrajectoriesPage = field(default_factory=TrajectoriesPage)
    build: BuildPage = field(default_factory=BuildPage)
    spice: SpicePage = field(default_factory=SpicePage)
    learn: LearnSettings = field(default_factory=LearnSettings)
    sweep: SweepPage = field(default_factory=SweepPage)
    learn_messages: Messages = field(default_factory=Messages)
    learn_memo: Memo = field(default_factory=lambda: Memo(8))

    def __post_init__(self) -> None:
        self.train.run.on_end = partial(end_run, self)

    @property
    def trainer(self) -> Trainer | None:
        """The Train page's trainer when it trains in this process (else its run has a worker)."""
        return self.train.run.trainer

    @property
    def playing(self) -> bool:
        return self.train.run.playing

    def _slot(self, page: str) -> tuple[Any, str]:
        holder, attr = OWN_SLOTS[page]
        return (self if holder is None else getattr(self, holder)), attr

    def own(self, page: str) -> Any:
        """The settings a page adds to its share link (None: the page has none of its own)."""
        return getattr(*self._slot(page)) if page in OWN_SLOTS else None

    def set_own(self, page: str, settings: Any) -> None:
        setattr(*self._slot(page), settings)


OWN_SLOTS = {"generate": ("generate", "settings"), "chip": ("chip", "settings"), "spice": ("spice", "settings"),
             "trajectories": ("trajectories", "choice"), "learn": (None, "learn"), "sweep": ("sweep", "link")}
"""Where each page's own (linkable) settings live in the session."""


def session_from_query(query: dict[str, str]) -> Session:
    """A new session set up from a link; a part it cannot use keeps its defaults, with a message."""
    session, problems = Session(), []
    try:
        session.config = config_from_query(query)
    except ValueError as e:
        problems.append(str(e))
    for page in OWN_SLOTS:
        try:
            session.set_own(page, own_from_query(page, query))
        except ValueError as e:
            problems.append(str(e))
    if problems:
        session.message = f"The link's settings could not be used ({'; '.join(problems)}); starting from the defaults."
    return session


def get_session() -> Session:
    """This browser session's state (created on first use, restored from the URL once)."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = session_from_query(dict(st.query_params))
    return st.session_state[SESSION_KEY]


def publish(session: Session, page: str) -> dict[str, str]:
    """Keep the address bar in step with the page's settings, so reloading or copying it reproduces
    the set-up. Returns the query (the page's share link)."""
    query = page_to_query(page, session.config, session.own(page))
    if {k: v for k, v in st.query_params.items()} != query:
        st.query_params.from_dict(query)
    return query


def hidden(session: Session) -> set[str]:
    """The control groups the classroom link hides."""
    return set(session.config.hide)


# --- widgets bound to the session --------------------------------------------------------------------

def sync(key: str, value: Any) -> None:
    """Show ``value`` in the widget ``key`` (the session is the source of truth, and Streamlit drops a
    widget's value when its page is left)."""
    if st.session_state.get(key, object()) != value:
        st.session_state[key] = value


def _stray() -> bool:
    """A fragment's rerun reporting a widget drawn outside any fragment: no person changed it (a click
    outside a fragment reruns the whole page), it is a value the browser held while the page was being
    redrawn — a number box typed as float, a multiselect not filled yet — and taking it would change
    the set-up behind the student's back (and stop a training worker)."""
    ctx = get_script_run_ctx()
    if ctx is None or not ctx.fragment_ids_this_run:
        return False
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState
        return ThreadState.get().fragment_id is None  # the widget's own fragment, set for its callback
    except (ImportError, AttributeError, RuntimeError):  # another Streamlit version: take every change
        return False


def _changed(key: str, on_set: Callable[[Any], None]) -> None:
    if not _stray():  # a stray value is shown back by the next full run (``sync``)
        on_set(st.session_state[key])


@functools.cache
def _parameters(widget: Callable) -> frozenset[str]:
    """A widget function's parameter names (read once per widget, not on every page run)."""
    return frozenset(inspect.signature(widget).parameters)


def bound(widget: Callable, label: str, *args: Any, key: str, value: Any, on_set: Callable[[Any], None],
          **kwargs: Any) -> Any:
    """``widget(label, *args, key=key, ...)`` showing ``value``; a change calls ``on_set(new value)``
    before the next run. Never give such a widget a default of its own.

    The widget gets ``value`` as its default too (``value``; ``index`` for a radio or selectbox;
    ``default`` for a multiselect): the browser shows the default when it never received the run that
    set the state (a first run cut short by a click), and sends it back with its next click. A
    default of its own once showed T, learning rate and batch size as 0 while training went on at 1,
    0.01 and 32, and turned a link's circles data set back into moons."""
    sync(key, value)
    params = _parameters(widget)
    options = list(args[0] if args else kwargs.get("options", ())) if "options" in params else []
    if "value" in params:
        kwargs.setdefault("value", value)
    elif "index" in params and value in options:
        kwargs.setdefault("index", options.index(value))
    elif "default" in params and isinstance(value, list) and all(v in options for v in value):
        kwargs.setdefault("default", value)
    return widget(label, *args, key=key, on_change=_changed, args=(key, on_set), **kwargs)


# --- circuit -> dataset -> trainer -----------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=64)
def cached_dataset(name: str, n_samples: int, noise: float | None, test_fraction: float, seed: int) -> Dataset:
    """The one dataset function of the app: shared by every page and session (datasets are pure)."""
    return make_dataset(name, n_samples=n_samples, noise=noise, test_fraction=test_fraction, seed=seed)


def dataset_for(config: Config) -> Dataset:
    return cached_dataset(config.dataset, config.n_samples, config.noise, config.test_fraction, config.seed)


def set_circuit(session: Session, circuit: Circuit, keep_run: bool = False) -> None:
    """Make ``circuit`` the session's circuit (no longer a shipped example). A new circuit stops and
    drops the trainer; an edit made on the Train page (``keep_run``) leaves it for ``ensure_trainer``,
    which rebuilds it and says training restarted."""
    session.circuit = circuit
    session.config.example = None
    if not keep_run:
        session.train.run.stop()


def _fallback(session: Session, reason: str) -> str:
    config = session.config
    preset = preset_for(config.dataset if config.dataset in DATASETS else "moons")
    config.generator, config.generator_params, config.example = preset.generator, dict(preset.params), None
    session.circuit = generate(preset.generator, **preset.params)
    return f"{reason}; using the default circuit for {config.dataset!r} instead."


def ensure_circuit(session: Session) -> str | None:
    """Build the circuit from the set-up (the example, else the generator) when there is none yet.
    Returns a message when that fails and the dataset's default circuit is used instead."""
    if session.circuit is not None:
        return None
    config = session.config
    if config.example is not None:
        try:
            session.circuit = kio.load_circuit(examples()[config.example])
            return None
        except (KeyError, OSError, ValueError) as e:
            return _fallback(session, f"The example {config.example!r} could not be loaded ({e})")
    try:
        session.circuit = generate(config.generator, **config.generator_params)
        return None
    except (ValueError, TypeError) as e:  # CircuitError is a ValueError
        return _fallback(session, f"The circuit settings could not be used ({e})")


EXAMPLE_NOTE = "Loaded the example **{name}**: {description}"


def use_example(session: Session, stem: str) -> None:
    """The shipped example ``stem`` is now the session's circuit's origin: the share link carries it,
    and a trained example brings the dataset and hyperparameters it was trained with (so the test
    set is the one its accuracy was measured on)."""
    config = session.config
    config.example = stem
    for name, value in example_settings(stem).items():
        setattr(config, name, value)
    session.trajectories.choice, session.trajectories.x = TrajectoryInput(), None


def load_example(session: Session, messages: Messages, name: str = TRAINED_EXAMPLE,
                 note: str = EXAMPLE_NOTE) -> None:
    """Load a shipped example (and, for a trained one, its data and settings); the Train page
    continues from its parameters and the share link carries it (``?example=``). ``note`` words the
    message ({name}, {file}, {nodes}, {devices}, {dataset}, {description})."""
    path = examples().get(name)
    try:
        circuit = kio.load_circuit(path)
    except (TypeError, OSError, ValueError) as e:
        messages.error(f"Could not load the example {name}: {e}")
        return
    default = Config()
    config = session.config
    config.generator, config.generator_params = default.generator, dict(default.generator_params)
    set_circuit(session, circuit)
    use_example(session, name)
    messages.note(note.format(name=circuit.name, file=path.name, nodes=circuit.num_nodes, devices=circuit.num_devices,
                              dataset=config.dataset, description=circuit.meta.get("description", "")))


def example_in_use(session: Session) -> tuple[str, kio.TrainingRecord] | None:
    """(file stem, training record) when the session's circuit is a shipped trained example."""
    stem = session.config.example
    record = example_record(stem) if stem is not None else None
    return (stem, record) if record is not None else None


def ensure_data(session: Session, messages: Messages) -> None:
    """``session.data`` follows the dataset settings; a bad setting falls back to the defaults with a
    message. Drawn points that are not a dataset yet leave it None (``session.points_problem`` says why)."""
    config = session.config
    if config.dataset != CUSTOM and config.dataset not in DATASETS:
        messages.error(f"Dataset: unknown name {config.dataset!r}; choose one of {', '.join(DATASETS)}. "
                       "Showing moons instead.")
        config.dataset = "moons"
    custom = config.dataset == CUSTOM
    key = ((CUSTOM, session.points_version, config.test_fraction, config.seed) if custom else
           (config.dataset, config.n_samples, config.noise, config.test_fraction, config.seed))
    if key == session.data_key and (session.data is not None or custom):
        return
    session.data_key = key
    try:
        if custom:
            session.points_problem = None
            session.data = points_to_dataset(session.custom_points, config.test_fraction, config.seed)
        else:
            session.data = cached_dataset(*key)
    except ValueError as e:
        if custom:
            session.points_problem, session.data = str(e), None
            return
        defaults = Config()
        messages.error(f"Dataset settings could not be used ({e}); back to the defaults for {config.dataset!r}.")
        config.n_samples, config.noise = defaults.n_samples, None
        config.test_fraction, config.seed = defaults.test_fraction, defaults.seed
        session.data_key = (config.dataset, config.n_samples, None, config.test_fraction, config.seed)
        session.data = cached_dataset(*session.data_key)


def set_points(session: Session, points: list[tuple[float, float, int]]) -> None:
    """Replace the user's own points (the dataset follows on the next ``ensure_data``)."""
    session.custom_points = points
    session.points_version += 1


def ensure_trainer(session: Session, messages: Messages) -> None:
    """Rebuild the trainer when anything but the learning rate changed (that restarts at epoch 0)."""
    config, page = session.config, session.train
    tc, sc = config.train_config(), config.solver_config()
    sig = (session.circuit, session.data, (tc.optimizer, tc.batch_size, tc.weight_decay, tc.seed),
           (sc.method, sc.rtol, sc.atol, sc.step_size, sc.adjoint, sc.max_nfe))
    old = page.sig
    same = old is not None and old[0] is sig[0] and old[1] is sig[1] and old[2:] == sig[2:]
    if same and (page.run.active or page.mismatch or session.data is None):
        return
    page.sig, page.mismatch = sig, None
    playing, had = page.run.playing, page.run.stop()
    if session.data is not None:
        try:
            check_compatible(session.circuit, session.data)
            page.run.start(partial(build_supervised, session.circuit, session.data, tc, sc),
                           partial(supervised_view, resolution=GRID_RES), DRAW_EVERY_S)
            page.run.playing = playing  # a change while playing plays on from epoch 0
        except ValueError as e:
            page.mismatch = str(e)
    page.run_settings = run_settings(session)
    if had and old is not None:
        messages.note(f"The set-up changed, so training restarted from epoch 0 (it was at epoch {had}).")


def setup_advice(session: Session) -> list[Advice]:
    """The guard rails' findings for the Train page's set-up (``kirchhoff_core.guards.check_setup``),
    computed again only when the circuit, the data or a setting changed."""
    page, circuit, data = session.train, session.circuit, session.data
    if circuit is None or data is None or page.mismatch:
        return []
    try:
        tc, sc = session.config.train_config(), session.config.solver_config()
    except ValueError:
        return []
    a = page.advice
    if a is None or a[0] is not circuit or a[1] is not data or a[2:4] != (tc, sc):
        page.advice = a = (circuit, data, tc, sc, check_setup(circuit, data, tc, sc))
    return a[4]


def current_circuit(session: Session) -> tuple[Circuit, int]:
    """The circuit as trained so far on the Train page (a snapshot: from its worker, the latest one it
    published), and its epochs; else as built."""
    run = session.train.run
    if run.trainer is not None:
        return run.trainer.model.to_circuit(), run.trainer.epoch
    view = _worker_view(run)
    return (view.circuit, view.step) if view is not None else (session.circuit, 0)


def trained_epochs(session: Session) -> int:
    """The epochs of the circuit ``current_circuit`` gives, without building it."""
    run = session.train.run
    if run.trainer is not None:
        return run.trainer.epoch
    view = _worker_view(run)
    return view.step if view is not None else 0


def _worker_view(run: LiveRun) -> SupervisedView | None:
    view = run.worker.snapshot.drawing if run.worker is not None else None
    return view if isinstance(view, SupervisedView) else None


# --- the Train page's run history ---------------------------------------------------------------------

def run_settings(session: Session) -> dict[str, Any]:
    """What a Train-page run is trained with, by name: the Compare view shows those that differ."""
    c, circuit = session.config, session.circuit
    out: dict[str, Any] = {"dataset": c.dataset, "samples": c.n_samples, "noise": c.noise,
                           "test fraction": c.test_fraction, "seed": c.seed}
    if circuit is not None:
        kinds = sorted({k for sl in circuit.slices for k in sl.kind.tolist()})
        out.update({"circuit": circuit.name or "custom", "nodes": circuit.num_nodes, "devices": circuit.num_devices,
                    "T": round(circuit.t_end, 9), "device kind": "/".join(kinds),
                    "circuit id": circuit.fingerprint()[:8]})
    out.update({"lr": c.lr, "optimizer": c.optimizer, "batch size": c.batch_size, "weight decay": c.weight_decay,
                "solver": c.method, "tolerance": c.tol, "step size": c.step_size, "adjoint": c.adjoint})
    return out


def end_run(session: Session, history: Sequence[StepRecord]) -> None:
    """A Train-page run ended (Reset, or a new set-up replaced it): keep its records; the next run
    starts with the set-up as it is now."""
    page = session.train
    page.runs.add(page.run_settings or run_settings(session), history)
    page.run_settings = run_settings(session)


# --- a sweep's trial on the Train (or Generate) page ------------------------------------------------

def open_trial(session: Session, trial: LoadedTrial, where: str) -> str:
    """Load a sweep trial's trained circuit and its settings (data, hyperparameters, solver) into the
    Train page, or into the Generate page for a generative trial. Returns the page's path; raises
    ValueError when the settings do not fit (nothing is changed then)."""
    s = trial.settings
    if s.get("task") in ("generate", "density"):
        _open_flow_trial(session, trial, where)
        return "app_pages/generate.py"
    d, t, sv, topo = s["dataset"], s["train"], s["solver"], s["topology"]
    config = replace(session.config, dataset=d["name"], n_samples=d["n_samples"], noise=d["noise"],
                     test_fraction=d["test_fraction"], seed=d["seed"], lr=t["lr"], optimizer=t["optimizer"],
                     batch_size=t["batch_size"], weight_decay=t["weight_decay"], method=sv["method"], tol=sv["rtol"],
                     step_size=sv["step_size"], adjoint=bool(sv.get("adjoint", False)),
                     generator=topo["generator"], generator_params=dict(topo["params"]), example=None)
    config.check()
    session.config = config
    set_circuit(session, trial.circuit)
    session.trajectories.choice, session.trajectories.x = TrajectoryInput(), None
    notes = [f"Opened {where}: {trial.circuit.num_nodes} nodes, {trial.circuit.num_devices} devices, trained "
             f"{trial.record.epochs_done} epoch(s) in the sweep. Training here continues from its parameters."]
    if t.get("mismatch"):
        notes.append(f"It trained with noise-aware mismatch {t['mismatch']:g}; the Train page trains without it.")
    if sv.get("atol") != sv.get("rtol"):
        notes.append(f"Its solver had atol {sv.get('atol'):g}; the Train page uses one tolerance for both.")
    session.train.messages.note(" ".join(notes))
    return "app_pages/train.py"


def _open_flow_trial(session: Session, trial: LoadedTrial, where: str) -> None:
    s, g = trial.settings, session.generate
    task, target, t, topo = s["task"], s["dataset"]["name"], s["train"], s["topology"]["params"]
    base = replace(GenerateSettings(), task=task, **{"target" if task == "generate" else "potential": target})
    base = base.with_preset()
    own = {k: tuple(v) if k == "repeats" else v for k, v in topo.items() if k in ("repeats", "num_slices", "kind",
                                                                               "duration")}
    new = replace(base, **own, lr=t["lr"], batch_size=t["batch_size"], tol=s["solver"]["rtol"], seed=t["seed"])
    new.check()
    g.run.stop()
    g.settings, g.circuit = new, trial.circuit
    g.messages.note(f"Opened {where}: training here continues from its parameters.")
