"""Holistic optimisations on the dataflow graph of tensor-level GIR, each a named pass:
gir-redundant-elim, gir-sweep-reuse, gir-sweep-fusion (see each module)."""
