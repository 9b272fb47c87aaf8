"""Neural energies on JAX (optional extra ``shortrun[deep]``): imported only when used."""
