"""Exports of a run's model for other runtimes: SavedModel, TFLite (float, float16, dynamic and int8
quantized, judged by test accuracy) and ONNX, each checked in its own runtime before it is written.

Imports `training`, `models`, `data`, `runs` and the base modules.
"""
