"""Models: the presets (a name -> an architecture and the recipe that trains it), the Keras
architectures, the line model's strip and alphabet, a model's probabilities in batches, and the
calibration (temperature and threshold) its answers are judged by.

Imports `data` and the base modules only; TensorFlow is imported where a model is built or run.
"""
