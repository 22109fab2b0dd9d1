"""Cambricon MLU target: GIR -> mlu dialect (BANG-style), capacity check, modelled estimate."""
