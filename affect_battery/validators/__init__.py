"""The defence battery: checks that the battery is keyword-free yet affectively legible.

Lower layer than ``analyses``; never imports torch at module import time, so the gate stays fast.
"""
