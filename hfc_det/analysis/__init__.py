"""Frequency-resolved analysis of a model: first-layer kernel smoothing (Eq. 3,
:mod:`.smoothing`), gradient spectra (:mod:`.gradient_spectrum`, pictures in
:mod:`.spectrum_plots`) and the Fourier heat map's resumable results (:mod:`.heatmap`).
No detectron2."""
