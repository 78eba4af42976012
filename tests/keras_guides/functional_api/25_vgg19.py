# source: keras-io guides/functional_api.py, "The Functional API" (fchollet, Keras 3 version, last modified 2020/04/12)
# section: Extract and reuse nodes in the graph of layers
# cells: 25 of 31; no prelude
# category: needs-conv
# reason: keras.applications.VGG19: a convolutional network with ImageNet weights downloaded from the network
# changed: import lines (keras -> glassnet.keras)
# Derived from keras-io (Apache-2.0), modified as stated above: see ../README.md.

import numpy as np
import glassnet.keras as keras
from glassnet.keras import layers
from glassnet.keras import ops

# --- snippet ---
vgg19 = keras.applications.VGG19()
