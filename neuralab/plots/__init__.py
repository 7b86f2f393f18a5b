"""Figures for experiments (extra ``neuralab[plots]``: matplotlib).

=====================  ==================================================================
learning_curves        accuracy and loss (log axis) per epoch, train vs validation,
                       mean +- std bands when several trials are given
sweep_curves           one curve per sweep point (e.g. per learning rate)
series_curves          per-batch series, e.g. first-layer gradient norms, ReLU vs sigmoid
decision_regions       a 2-D classifier's regions with the training points
hidden_unit_maps       each first-layer unit's response over the 2-D input grid
weight_tiles           first-layer Dense weights as images (28x28 for MNIST MLPs)
conv_filters           first Conv2D layer's filters
confusion_matrix_plot  counts of true vs predicted classes
regression_fit         a 1-D regression: data, prediction and the true function
=====================  ==================================================================

Every function returns a ``matplotlib.figure.Figure``; :func:`save_figure` writes it
atomically and closes it.
"""

from ._base import pyplot, save_figure
from .curves import learning_curves, series_curves, sweep_curves
from .inspect import (
    confusion_matrix_plot,
    conv_filters,
    decision_regions,
    hidden_unit_maps,
    regression_fit,
    weight_tiles,
)

__all__ = ["pyplot", "save_figure", "learning_curves", "sweep_curves", "series_curves",
           "decision_regions", "hidden_unit_maps", "weight_tiles", "conv_filters",
           "confusion_matrix_plot", "regression_fit"]
