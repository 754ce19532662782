"""One blueprint per area of the user guide."""
