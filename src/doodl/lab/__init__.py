"""The classifier-centric guidance lab (Studying Classifier(-Free) Guidance From a Classifier-Centric
Perspective, 2025): toy data, point denoisers and noise-aware classifiers, CG / CFG / DOODL trajectories, and
flow-matching postprocessing to the top-k nearest real neighbours. See README.md in this folder."""

from .config import LabConfig, parse_scales
from .data import FractalSpec, MixtureSpec, fractal2d, mixture1d, point_dataset
from .experiment import LabResult, format_table, run_point_lab
from .neighbors import brute_force_topk, topk_neighbors
from .postprocess import FlowConfig, dopri5, euler, postprocess, train_flow

__all__ = ["LabConfig", "parse_scales", "FractalSpec", "MixtureSpec", "fractal2d", "mixture1d", "point_dataset",
           "LabResult", "format_table", "run_point_lab", "brute_force_topk", "topk_neighbors", "FlowConfig",
           "dopri5", "euler", "postprocess", "train_flow"]
