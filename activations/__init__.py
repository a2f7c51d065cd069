"""Public schema: interagency activations, callouts, outreach targets and assignments, the activation log."""
