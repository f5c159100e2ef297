"""Running trials and presenting their results."""
