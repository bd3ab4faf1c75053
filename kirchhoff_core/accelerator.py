"""Where tensors live: the one rule that turns a user's device choice into a torch device.

"auto" picks the first CUDA GPU when torch sees one, else the CPU; "cpu", "cuda" and "cuda:N" are
taken as given, with a clear error when the machine has no such GPU. The trainers, the CLI and the
app all go through ``resolve_device``, so they agree on what "auto" means.
"""

from __future__ import annotations

import re

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(name: object) -> str:
    """The name if it is one we accept ("auto", "cpu", "cuda", "cuda:N"); ValueError otherwise."""
    if not isinstance(name, str) or not _PATTERN.match(name):
        raise ValueError(f"device: choose 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    return name


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for a choice; "auto" is CUDA when available. Asking for a GPU the machine
    does not have is a ValueError that says so."""
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} was asked for, but torch sees no CUDA GPU on this machine "
                         "(use 'cpu' or 'auto')")
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"device: {name!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device("cuda", index)


def describe(device: torch.device) -> str:
    """A short human name, e.g. 'CPU' or 'GPU cuda:0 (NVIDIA H200)'."""
    if device.type != "cuda":
        return "CPU"
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"GPU cuda:{index} ({torch.cuda.get_device_name(index)})"
