"""Synthetic data: every sample writer and scene generator of the book.

Each ``<dataset>.py`` writes a small sample in exactly the official on-disk layout and formats of its dataset
(named by the dataset's ``sample_writer`` in :mod:`course_lib.data.registry`), so that the quick profile runs
without a download and the loaders read real and synthetic data with the same code. Scene generators for the
chapters' small demonstrations live here too. Samples always say that they are synthetic.
"""
