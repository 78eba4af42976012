# source: keras-io guides/functional_api.py, "The Functional API" (fchollet, Keras 3 version, last modified 2020/04/12)
# section: Extract and reuse nodes in the graph of layers
# cells: 26 of 31; prelude cells 25
# category: needs-conv
# reason: keras.applications.VGG19 (convolutional)
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- prelude: earlier cells of the guide, run first as a notebook would ---
# [cell 25]
vgg19 = keras.applications.VGG19()

# --- snippet ---
features_list = [layer.output for layer in vgg19.layers]
