"""The reproduction report (``pinn reproduce``): REPORT.md and its figures, from the run store alone.

``data`` reads the runs, ``figures`` draws the PNGs, ``text`` turns numbers into text, ``write`` writes the
report one section at a time. A new section is a function in ``write`` added to ``write_report``'s list.
"""
from .write import write_report

__all__ = ["write_report"]
