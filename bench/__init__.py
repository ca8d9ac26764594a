"""Benchmarks of the controller's wire code against reference peers; figures, never assertions."""
