"""The default data set's simulator: bead models -> rotation -> rendering -> optics -> noise."""

#: Calibrated so that the default models with plain cross-entropy score near the
#: paper's baselines (docs/simulator.md, "Calibration").
DEFAULT_SNR = 0.004

#: Bump when the simulator's output for the same parameters changes: it keys the data
#: cache and enters every trial key (the ``synthetic`` source's revision).
SIMULATOR_VERSION = 3
