"""The bottom layer: Linux interfaces as hwdbg uses them, and nothing of hwdbg's own logic.

``ptrace`` (the requests, over python-ptrace's binding), ``native`` (the one importer of the
cffi module), ``procfs`` (every /proc reader). Above ``errors`` only.
"""
