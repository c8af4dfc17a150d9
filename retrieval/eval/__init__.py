"""Evaluation with the product's own code: data sets (data), metrics, runs (run), reports."""
