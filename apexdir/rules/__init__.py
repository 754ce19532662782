"""Pure business rules: no I/O, no directory, no clock of their own."""
