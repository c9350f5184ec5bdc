"""The bottom layer: Linux interfaces as hwdbg uses them, and nothing of hwdbg's own logic.

``ptrace`` (the requests, through the C library with ctypes), ``native`` (the one importer of the
cffi module), ``procfs`` (every /proc reader). Above ``errors`` only.
"""
