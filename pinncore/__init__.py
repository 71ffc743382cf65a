"""pinncore: a step-wise PINN training core (Wang, Teng & Perdikaris 2021). Imports no UI library."""
from .config import METHODS, RunConfig
from .errors import ConfigError
from .models import MODELS, MLP, ModifiedMLP, make_model
from .problems import PROBLEMS, Problem, Term, make_problem, problem_from_spec, register_problem
from .diagnostics import gradient_imbalance, top_hessian_eigenvalue, top_hessian_eigenvalues
from .records import (AlignmentRecord, CausalRecord, EvalSnapshot, GradSnapshot, HessianSnapshot, KernelSpectrum,
                      KernelTraces, Record, StepRecord, StiffnessSnapshot)
from .trainer import Trainer
from .weighting import NTK, WEIGHTINGS, Annealing, GradNorm, Weighting, make_weighting
from .alignment import alignment
from .optim import OPTIMIZERS

__all__ = ["METHODS", "RunConfig", "ConfigError", "MODELS", "MLP", "ModifiedMLP", "make_model", "PROBLEMS",
           "Problem", "Term", "make_problem", "problem_from_spec", "register_problem", "EvalSnapshot",
           "GradSnapshot", "Record", "StepRecord",
           "HessianSnapshot", "StiffnessSnapshot", "Trainer", "gradient_imbalance", "top_hessian_eigenvalue",
           "top_hessian_eigenvalues",
           "WEIGHTINGS", "Annealing", "GradNorm", "Weighting", "make_weighting", "NTK", "alignment",
           "KernelTraces", "KernelSpectrum", "AlignmentRecord", "CausalRecord", "OPTIMIZERS"]
