"""What actors do: library functions the CLI, the daemon and the portal call alike."""
