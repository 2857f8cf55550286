"""al_core: the engine of Active Learning Lab.

Pool-based active learning for image classification with Keras 3 on TensorFlow.
This package never imports Streamlit; the app's pages call into it.
"""

import os

# TensorFlow's C++ start-up chatter (CPU features, absl) would bury our own
# messages on stderr; a user who wants it sets the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Stored with every trial and labeling session (:func:`al_core.environment.capture`).
#: Raised when a change gives other results for the same config and seed: 0.2.0, the
#: Bayesian CNN's 3x3 kernel on maps narrower than 5 (8x8 images).
__version__ = "0.2.0"
