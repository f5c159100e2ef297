"""The default data set's simulator: bead models -> rotation -> rendering -> optics -> noise."""

#: Calibrated so a plain CNN scores in the paper's baseline range (docs/simulator.md).
DEFAULT_SNR = 0.01
