"""Networks: built from config, the fused training loop, diagnostics, metrics. Imports core and data.

Every module here imports TensorFlow and Keras: importing this package imports TensorFlow
first, quietly (pipeline.core.quiet), so that no entry point prints its C++ log lines.
"""

from pipeline.core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
