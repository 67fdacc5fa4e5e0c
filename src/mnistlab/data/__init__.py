"""Data: the datasets (MNIST fetched and verified, Fashion-MNIST, IDX folders, NPZ files), the fonts,
and everything drawn to train on: rendered digits, lines of digits and non-digits, and test-time
views of an image.

The first stage: it imports only the base modules (`errors`, `atomic`, `images`, `extras`).
"""
