"""``pinn``, the command line: a thin layer over pinncore (train, resume, eval, list one run) and pinnlab (sweep,
reproduce, bench). ``main`` dispatches, ``args`` parses, ``commands`` acts."""
