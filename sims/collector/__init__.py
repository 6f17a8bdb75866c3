"""The results collector: writes every step to the run folder as the run goes."""
