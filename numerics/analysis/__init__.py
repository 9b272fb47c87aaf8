"""Layer 7: diagnostics of trained machines (memory curves, coupling errors, mixing times)."""
