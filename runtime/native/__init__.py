"""Native parts of the CPU runtime (built by `pip install -e .`; see setup.py)."""
