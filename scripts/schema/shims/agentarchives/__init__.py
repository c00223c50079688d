import sys

import _schemagen_shim

_schemagen_shim.shim(sys.modules[__name__])
