"""Layer 6: diagnostics of trained machines (memory curves, coupling errors, mixing times)."""
