"""Inference: a run's model answering through onnxruntime (or Keras, for checking), and the
predictor that judges single digits with the run's calibration and test-time views.

Imports `data`, `models`, `runs`, `training` (only to make a missing ONNX model from Keras) and the
base modules.
"""
