"""The user interface: the command line, the REPL, batch and JSON output, the man page.

Only this package prints. ``commands/`` holds the registry and the commands,
``context.py`` the dispatcher, ``render.py`` the text and JSON renderers.
"""
