"""Reference mechanistic-interpretability analyses over the battery.

Filled by the analyses issue; nothing here imports torch at package import time.
"""
