"""Classes that experiment files in the tests refer to by import path."""

import os

from neuralab.layers import Layer


class CrashOnBuild(Layer):
    """Kills its process when built: stands in for an out-of-memory kill or a native crash."""

    def build(self, input_shape):
        os._exit(3)
