"""The default data set's simulator: bead models -> rotation -> rendering -> optics -> noise."""
