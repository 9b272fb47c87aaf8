"""Layer 1: energy-based models (parameters θ, energies, sufficient statistics φ)."""
from shortrun.numerics.models.boltzmann import BoltzmannMachine, check_params, normalised_exp

__all__ = ["BoltzmannMachine", "check_params", "normalised_exp"]
