"""apexdir's benchmarks: `python -m benchmarks.run [--accounts N]` (see benchmarks/run.py)."""
