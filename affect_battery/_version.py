"""The single source of truth for the package and battery version.

The battery's data and the code that checks it are released together, so one number names both.
"""

__version__ = "0.1.0"
