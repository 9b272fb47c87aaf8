"""Exact state-space machinery, Markov kernels, spectra, training and Monte Carlo."""
