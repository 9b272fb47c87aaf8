r"""The model registry: what each model type can do beyond its own class, in one record.

A model class (:class:`shortrun.numerics.models.base.Model`) carries θ, its statistics, its state
space and its Gibbs law.  Its chains live in higher layers (kernels, samplers), so a model type
lists them once, in ``numerics/registry.py``, with one call::

    register_model(PottsMachine, kernel=..., law_tangent=..., stationary_tangent=...,
                   sampler=..., initial_states=...)

The public entry points (:func:`shortrun.numerics.kernels.kernel`, ``law``, ``law_tangent``,
``stationary_tangent``, :func:`shortrun.numerics.sampling.sample`, ``initial_states``) resolve
``rule``/``scan`` from the model and call the registered function; a capability the model type
lacks raises :class:`MissingCapability`, which names the capability and how to register it.

Signatures of the capabilities (``rule`` and ``scan`` arrive resolved: ``None`` replaced by the
model's default; each capability checks them against the model's ``RULES`` / ``SCANS``, so that
its messages can say more than the names):

=======================  ==========================================================================
``kernel``               ``(model, rule, scan, *, warn=True) -> Kernel`` (column-stochastic, (G2))
``law_tangent``          ``(model, p0, k, rule, scan) -> (p, D)``, :math:`D = \partial p/\partial\theta`
``stationary_tangent``   ``(model, rule, scan) -> (pi, dpi)``
``sampler``              ``(model, p0, k, rule, scan, n_chains, seed, times) -> int8 states``
``initial_states``       ``(model, p0, n_chains, seed) -> int8 (n_chains, N)``
=======================  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

#: What each capability is, for error messages.
CAPABILITIES = {
    "kernel": "exact kernel (the k-step law on all states)",
    "law_tangent": "exact tangent of the k-step law (Newton, the exact Jacobian)",
    "stationary_tangent": "exact tangent of the stationary law (Newton with pcd)",
    "sampler": "Monte Carlo sampler",
    "initial_states": "initial-state draw of the Monte Carlo chains",
}

_SHORT = {"kernel": "exact kernel", "law_tangent": "exact tangent",
          "stationary_tangent": "exact tangent", "sampler": "sampler", "initial_states": "sampler"}

#: Where the registrations of the shipped models are.
REGISTRY_MODULE = "shortrun.numerics.registry"


class MissingCapability(ValueError):
    """The model type has no registered function for a capability (see :func:`register_model`)."""


@dataclass(frozen=True)
class Capabilities:
    """The functions registered for one model type (``None``: not available)."""

    kernel: object = None
    law_tangent: object = None
    stationary_tangent: object = None
    sampler: object = None
    initial_states: object = None

    def available(self):
        """Names of the capabilities present."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)


_REGISTRY: dict = {}


def register_model(model_type, **functions):
    """Register the capabilities of ``model_type`` (keywords of :data:`CAPABILITIES`).

    A second call for the same type adds to (or replaces entries of) its record.  Returns the
    record.  ``model_type`` must be a class; unknown keywords are refused.
    """
    if not isinstance(model_type, type):
        raise ValueError(f"model_type must be a model class; got {model_type!r}.")
    unknown = sorted(set(functions) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"register_model got unknown capabilities {unknown}; use "
                         f"{', '.join(CAPABILITIES)}.")
    for name, fn in functions.items():
        if fn is not None and not callable(fn):
            raise ValueError(f"{name} must be callable (see the signatures in "
                             f"shortrun.numerics.core.dispatch); got {fn!r}.")
    record = replace(_REGISTRY.get(model_type, Capabilities()),
                     **{k: v for k, v in functions.items() if v is not None})
    _REGISTRY[model_type] = record
    return record


def capabilities(model):
    """The :class:`Capabilities` of ``model`` (an instance or a class): the record of the
    nearest registered class in its MRO, an empty record if none."""
    cls = model if isinstance(model, type) else type(model)
    for base in cls.__mro__:
        if base in _REGISTRY:
            return _REGISTRY[base]
    return Capabilities()


def registered_models():
    """The registered model types, in registration order."""
    return tuple(_REGISTRY)


def capability(model, name, *, model_base=None):
    """The function registered for ``name`` for ``model``'s type.

    Raises a ValueError when ``model`` is not a model (``model_base`` given and not an instance
    of it) and :class:`MissingCapability` naming the capability and the registration to add
    when the type lacks it.
    """
    if model_base is not None and not isinstance(model, model_base):
        raise ValueError(f"model must be a model with a registered {_SHORT[name]} (an instance "
                         f"of a subclass of {model_base.__module__}.{model_base.__name__}, e.g. "
                         f"shortrun.numerics.models.BoltzmannMachine(h, J)); got "
                         f"{type(model).__name__}.")
    fn = getattr(capabilities(model), name)
    if fn is None:
        cls = type(model).__name__
        have = capabilities(model).available()
        has = f"it has {', '.join(have)}" if have else "it has no registered capability"
        raise MissingCapability(
            f"{cls} has no {CAPABILITIES[name]}: no '{name}' is registered for it ({has}). "
            f"Register one with shortrun.numerics.core.dispatch.register_model({cls}, "
            f"{name}=...) (the shipped models do it in {REGISTRY_MODULE}; see "
            "docs/architecture.md, 'How to add a model').")
    return fn
