"""``hwdbg serve``: gdb's remote serial protocol over the session, for gdb, lldb and IDEs.

packets (framing, pure) > regs (target description, register file) and stopreply (stop
replies, gdb's signal numbers) > points (Z/z on the session's table) and monitor (qRcmd) >
stub (one handler per packet) > server (connections, running, disconnects) > cli.
"""
