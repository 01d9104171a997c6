"""Neural style transfer engine: Gatys optimisation and fast ONNX networks, as a library, a CLI
(`python -m engine`) and a local HTTP service. Never imports GIMP."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
