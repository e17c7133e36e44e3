"""Where models run: the one place that turns a device choice into a ``torch.device``.

The names a user may choose are :data:`climviz.vocabulary.DEVICES`; ``"auto"``
(the default, also spelt ``None``) picks a CUDA GPU when torch sees one, else the
CPU. The CLI's ``--device``, the pipelines' ``device=`` arguments, the app (which
loads its models with the default) and the training loops all resolve here.
torch is imported only when a device is resolved, so the CLI can import this module
and still answer ``--help`` without loading torch.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device=None, *, index: int | None = None) -> torch.device:
    """The ``torch.device`` for ``device``.

    Parameters
    ----------
    device : ``None`` or ``"auto"``: ``cuda`` when ``torch.cuda.is_available()``, else
        ``cpu``; any other name (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or a ``torch.device``
        is taken as it is.
    index : the CUDA device that ``"auto"`` picks when it picks CUDA (``LOCAL_RANK``
        under torchrun); ``None``: the current one.
    """
    import torch

    if device is None or device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda") if index is None else torch.device("cuda", index)
    return torch.device(device)
