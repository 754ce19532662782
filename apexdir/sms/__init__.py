"""Text messages: a gateway interface and its HTTP backend."""
