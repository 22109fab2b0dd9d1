"""Emulators and simulators that execute lowered IR on NumPy: the GPU-kernel simulator and the MLU
emulator, with per-op semantics tables shared by both (semantics.py)."""
