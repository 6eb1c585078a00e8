"""A trial's checkpoint file: plain types only, loaded with ``torch.load(weights_only=True)``.

With shared storage (a bucket, NFS), whoever can write a checkpoint could otherwise run code on
every node that resumes from it: a full unpickler executes what the file names. So the file
holds only what PyTorch's restricted unpickler accepts, and nothing else is ever loaded.

Rules:

- The file is ``torch.save`` of ``{"format": FORMAT, "trainer": ..., "trial": ...}``:
  ``trainer`` is :meth:`ContrastiveTrainer.state_dict` (model and optimizer state, the batch
  stream's and the augmentations' random generator states, the cluster assignment, the
  schedule, progress), ``trial`` what the trainable keeps beside it (e.g. the batch sizes that
  ran out of memory).
- Allowed inside (:func:`to_plain` converts, and refuses anything else with the key path
  named): tensors, ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples and dicts of
  those (an ``OrderedDict`` stays one). A numpy array becomes ``{"__numpy__": tensor}`` and a
  numpy scalar its Python value; a dataclass registered in :data:`RESTORABLE` (the cluster
  assignment) becomes ``{"__dataclass__": name, field: value, ...}``. :func:`from_plain`
  reverses both, building only registered classes.
- Loading uses ``torch.load(..., weights_only=True)``; a file that needs anything more (a
  pickled class, a function call: a tampered or foreign file), is cut short, or lacks the
  format tag is refused with a :class:`~tune_bs.errors.UserInputError` of one line that names
  the file.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tune_bs.errors import UserInputError
from tune_bs.train.clustering import ClusterAssignment

#: The format tag of a tune-bs checkpoint file.
FORMAT = "tune_bs.checkpoint/1"  # a file format name: stays when modules move
#: Dataclasses a checkpoint may hold, by name (the only classes :func:`from_plain` builds).
RESTORABLE: dict[str, type] = {"ClusterAssignment": ClusterAssignment}
_NUMPY = "__numpy__"
_DATACLASS = "__dataclass__"
_PLAIN = (bool, int, float, str, type(None), torch.Tensor)


def to_plain(value: Any, where: str = "state") -> Any:
    """``value`` with numpy arrays, numpy scalars and registered dataclasses turned into the
    plain types of the module rules; ``TypeError`` naming ``where`` (the key path) for any other
    type."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(
                f"{where} is a numpy array of Python objects; a checkpoint holds "
                "numeric arrays only."
            )
        return {_NUMPY: torch.from_numpy(np.ascontiguousarray(value).copy())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if RESTORABLE.get(name) is not type(value):
            raise TypeError(
                f"{where} is a {name}, which a checkpoint cannot hold; register it "
                "in tune_bs.search.checkpoint.RESTORABLE or store plain values."
            )
        return {
            _DATACLASS: name,
            **{
                f.name: to_plain(getattr(value, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(value)
            },
        }
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"{where} has the key {key!r}; checkpoint keys are str or int.")
        items = ((k, to_plain(v, f"{where}.{k}")) for k, v in value.items())
        return OrderedDict(items) if isinstance(value, OrderedDict) else dict(items)
    if isinstance(value, (list, tuple)):
        items = [to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    raise TypeError(
        f"{where} is a {type(value).__name__}, which a checkpoint cannot hold; "
        "store tensors, numbers, strings, lists or dicts."
    )


def from_plain(value: Any) -> Any:
    """The inverse of :func:`to_plain` (tagged numpy arrays and registered dataclasses back)."""
    if isinstance(value, dict):
        if set(value) == {_NUMPY}:
            return value[_NUMPY].cpu().numpy()
        if _DATACLASS in value:
            cls = RESTORABLE[value[_DATACLASS]]
            fields = {k: from_plain(v) for k, v in value.items() if k != _DATACLASS}
            return cls(**fields)
        items = ((k, from_plain(v)) for k, v in value.items())
        return OrderedDict(items) if isinstance(value, OrderedDict) else dict(items)
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(from_plain(v) for v in value)
    return value


def dumps(trainer_state: dict[str, Any], trial: dict[str, Any] | None = None) -> bytes:
    """The checkpoint file's bytes for a trainer state and the trainable's own ``trial`` state."""
    payload = {
        "format": FORMAT,
        "trainer": to_plain(trainer_state, "trainer"),
        "trial": to_plain(trial or {}, "trial"),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def loads(
    data: bytes | Path, device: torch.device | str = "cpu", name: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(trainer state, trial state)`` from checkpoint bytes or a file (module rules).

    ``name`` is what an error calls the source (default: the file's path, else "checkpoint").
    """
    source = name or (str(data) if isinstance(data, Path) else "checkpoint")
    stream: Any = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        payload = torch.load(stream, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UserInputError(
            f"checkpoint file {source} does not exist; resume from another "
            "checkpoint or start the trial again."
        ) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserInputError(
            f"checkpoint file {source} holds more than plain tensors, numbers and strings, or is "
            f"damaged ({reason}); it was not loaded (it may have been tampered with): delete "
            "that checkpoint folder so the trial resumes from an earlier one, or start it again."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserInputError(
            f"checkpoint file {source} is not a {FORMAT} checkpoint (written by another program "
            "or an older tune-bs); delete that checkpoint folder or start the trial again."
        )
    return from_plain(payload["trainer"]), from_plain(payload.get("trial", {}))
