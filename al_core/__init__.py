"""al_core: the engine of Active Learning Lab.

Pool-based active learning for image classification with Keras 3 on TensorFlow.
This package never imports Streamlit; the app's pages call into it.
"""

import os

# TensorFlow's C++ start-up chatter (CPU features, absl) would bury our own
# messages on stderr; a user who wants it sets the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
