"""pinnlab: the lab tools built on pinncore. ``sweep`` (grids of runs on Ray), ``reproduce`` (the paper's
experiments as one sweep), ``report`` (REPORT.md and its figures from the run store), ``bench`` (training speed),
``paper`` (the paper's numbers and protocol, read by all of them), ``provenance`` (git commit, host).

pinncore never imports this package; this package imports no UI library.
"""
