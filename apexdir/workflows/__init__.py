"""What actors do: library functions the CLI, the daemon and a future portal call alike."""
