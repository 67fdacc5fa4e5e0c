"""Training and judging a model with TensorFlow/Keras (the `[train]` extra): the core shared by every
model kind (options, seeds, optimizer schedule, callbacks, backups and resume), the digit classifier
and the line model, ensembles and tf.distribute, evaluation, plots, the run report, and each run's
ONNX model.

Imports `data`, `models`, `runs` and the base modules; nothing that answers requests.
"""
