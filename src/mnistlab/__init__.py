"""mnistlab: train, judge, use and ship MNIST-style classifiers with TensorFlow/Keras."""

__version__ = "0.1.0"
