"""``model_dispatch``: a function chosen by the type of its ``model`` argument.

Like :func:`functools.singledispatch`, but ``model`` may also be passed by keyword, as the
public functions allow (``sample(model=m, p0=..., k=...)``).
"""
from __future__ import annotations

import functools


def model_dispatch(fallback):
    """Decorate the fallback (raises for unknown model types); ``.register`` adds a type."""
    table = functools.singledispatch(fallback)

    @functools.wraps(fallback)
    def call(*args, **kwargs):
        if args:
            model = args[0]
        elif "model" in kwargs:
            model = kwargs["model"]
        else:
            raise ValueError(f"{fallback.__name__}() needs a model as its first argument.")
        return table.dispatch(type(model))(*args, **kwargs)

    call.register = table.register
    call.dispatch = table.dispatch
    call.registry = table.registry  # the whole functools interface (documentation tools read it)
    return call
