"""edgectl: the host toolkit for edgectl boards (CLI, simulator, broker, monitor)."""
from .core import paths as _paths

# The version is stated once, as the firmware's FW (firmware/app.py, what a board reports);
# pyproject.toml takes it from here (dynamic version, attr edgectl.__version__).
__version__ = _paths.firmware_constant('app.py', 'FW', _paths.ROOT / 'firmware')
