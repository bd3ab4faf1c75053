"""Guard rails on the pages that train (``kirchhoff_core.guards`` finds the problems; this draws them):
number boxes that refuse an out-of-range number with a message saying the valid range, a settings
check shown before training with a button that applies the fix, and a hint when the loss jumps
after a learning-rate change."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

from bookkeeping import Messages
from kirchhoff_core import guards
from state import bound


def number(col: Any, label: str, low: float, high: float, *, key: str, value: float, on_set: Callable[[Any], None],
           messages: Messages, **kwargs: Any) -> Any:
    """A number box bound to ``value`` that takes any number typed and hands ``on_set`` only those in
    [low, high]; others are refused with a message saying the range, and the box shows ``value`` again.
    (With the widget's own min/max a typed −5 would only turn the box red, with no word on why.)"""

    whole = isinstance(value, int)

    def checked(new: Any) -> None:
        problem = guards.out_of_range(label, None if new is None else float(new), low, high)
        if problem:
            messages.error(f"{problem}; kept {guards.number_text(value)}.")
        elif new != value:
            on_set(int(new) if whole else new)

    if whole:  # without min/max the box would take the type of its default, a float
        kwargs.setdefault("step", 1)
    return bound(col.number_input, label, key=key, value=value, on_set=checked, **kwargs)


FIX_LABELS = {"read_out_time": "Use T = {:g}", "lr": "Use learning rate {:g}", "batch_size": "Use batch size {:g}"}


def advice(found: Sequence[guards.Advice], fixes: dict[str, Callable[[float], None]], key: str) -> None:
    """Each finding in a box, with a button that applies its suggested value where the page can."""
    for i, a in enumerate(found):
        box = st.error if a.level == "error" else st.warning
        fix = fixes.get(a.setting)
        if a.suggestion is None or fix is None:
            box(a.message, icon=":material/warning:")
            continue
        text, button = st.columns([5, 1], vertical_alignment="center")
        with text:
            box(a.message, icon=":material/warning:")
        button.button(FIX_LABELS.get(a.setting, "Use {:g}").format(a.suggestion), key=f"{key}_{i}_{a.setting}",
                      on_click=fix, args=(a.suggestion,), icon=":material/build:", width="stretch")


def loss_hint(history: Sequence, set_lr: Callable[[float], None], key: str, unit: str = "step") -> None:
    """The hint when the loss rose sharply just after the learning rate changed (``guards.loss_jump``)."""
    jump = guards.loss_jump(history, unit=unit)
    if jump is not None:
        advice([jump], {"lr": set_lr}, key)
