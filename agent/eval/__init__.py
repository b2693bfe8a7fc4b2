"""Benchmark evaluation: ScreenSpot datasets, official metrics, resumable runs, reports."""
