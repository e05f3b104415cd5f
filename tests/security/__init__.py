"""Leak sweeps: canary secrets planted everywhere, looked for everywhere."""
