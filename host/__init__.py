"""edgectl: the host toolkit for edgectl boards (CLI, simulator, broker, monitor)."""
__version__ = '0.7.0'
