"""Layer 2: energy-based models (parameters θ, energies, sufficient statistics φ)."""
from shortrun.numerics.models.boltzmann import BoltzmannMachine, check_params, normalised_exp
from shortrun.numerics.models.independent import IndependentSpins
from shortrun.numerics.models.potts import PottsMachine
from shortrun.numerics.models.rbm import RBM

__all__ = ["BoltzmannMachine", "IndependentSpins", "PottsMachine", "RBM", "check_params",
           "normalised_exp"]
