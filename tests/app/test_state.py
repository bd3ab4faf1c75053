"""Config <-> URL round trip (app/state.py) and how the app treats a malformed link."""

from __future__ import annotations

import pytest
from apptest_helpers import APP_DIR
from streamlit.testing.v1 import AppTest

from state import HIDEABLE, SESSION_KEY, Config, config_from_query, config_to_query

CONFIGS = [
    Config(),
    Config(dataset="circles", lr=0.05, hide=["solver"]),
    Config(generator="ring", generator_params={"num_nodes": 6, "repeats": [2, 1], "kind": "ShiftRelu1"},
           dataset="sine", n_samples=321, noise=0.25, test_fraction=0.35, seed=7, lr=0.003, optimizer="sgd",
           batch_size=0, weight_decay=1e-4, method="rk4", tol=1e-5, step_size=0.05, adjoint=True,
           hide=list(HIDEABLE)),
    Config(noise=0.0, method="euler", step_size=1e-3, generator_params={}),
    Config(lr=1.0 / 3.0, tol=3e-4, weight_decay=1.2345678901234567e-7),  # floats that need every digit
]


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip_is_exact(config):
    query = config_to_query(config)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
    assert config_from_query(query) == config


def test_defaults_give_an_empty_query_and_only_changes_are_written():
    assert config_to_query(Config()) == {}
    assert config_to_query(Config(dataset="circles", lr=0.05, hide=["solver"])) == {
        "ds": "circles", "lr": "0.05", "hide": "solver"}
    assert config_from_query({}) == Config()


def test_unknown_parameters_are_ignored():
    assert config_from_query({"utm_source": "mail", "ds": "xor"}) == Config(dataset="xor")


@pytest.mark.parametrize("query, names", [
    ({"lr": "fast"}, "lr"),
    ({"lr": "-1"}, "lr"),
    ({"bs": "3.5"}, "bs"),
    ({"adjoint": "maybe"}, "adjoint"),
    ({"gp": "[1, 2]"}, "gp"),
    ({"gp": "{not json"}, "gp"),
    ({"hide": "solver,everything"}, "hide"),
    ({"solver": "magic"}, "method"),
    ({"opt": "newton"}, "optimizer"),
    ({"tol": "2"}, "tol"),
])
def test_malformed_values_raise_value_error_naming_the_parameter(query, names):
    with pytest.raises(ValueError, match=names):
        config_from_query(query)


def _app(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def test_a_malformed_link_shows_a_message_and_starts_from_the_defaults():
    at = _app({"lr": "fast", "ds": "circles"}).run()
    assert not at.exception
    shown = " ".join(w.value for w in at.warning)
    assert "could not be used" in shown and "lr='fast'" in shown
    assert at.session_state[SESSION_KEY].config == Config()


def test_a_good_link_restores_the_config_on_first_use():
    at = _app({"ds": "circles", "lr": "0.05", "hide": "solver"}).run()
    assert not at.exception
    assert at.session_state[SESSION_KEY].config == Config(dataset="circles", lr=0.05, hide=["solver"])
