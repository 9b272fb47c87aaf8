"""Layer 5: data sets and teachers (exact laws, seeded samples, user samples)."""
