"""hwdbg.process.swbreak against a bytearray standing in for the target's memory."""
from __future__ import annotations

from hwdbg.process.swbreak import INT3, SoftwareBreakpoints


def memory(size=64):
    mem = bytearray(range(size))

    def read(addr, n):
        return bytes(mem[addr:addr + n])

    def write(addr, data):
        mem[addr:addr + len(data)] = data

    return mem, SoftwareBreakpoints(read, write)


def test_insert_hides_and_remove_restores():
    mem, sw = memory()
    sw.insert(10, owner=1)
    assert mem[10] == INT3 and sw.mask(8, bytes(mem[8:12])) == bytes([8, 9, 10, 11])
    sw.remove(10, owner=1)
    assert mem[10] == 10 and not sw and 10 in sw.ever


def test_shared_site_stays_until_its_last_owner_goes():
    mem, sw = memory()
    sw.insert(5, 1)
    sw.insert(5, 2)
    sw.remove(5, 1)
    assert mem[5] == INT3 and sw.owners(5) == {2}
    sw.remove(5, 2)
    assert mem[5] == 5


def test_a_write_over_a_breakpoint_becomes_its_saved_byte():
    mem, sw = memory()
    sw.insert(20, 1)
    data = sw.store(18, b"\xaa\xbb\xcc\xdd")
    assert data == b"\xaa\xbb\xcc\xdd"[:2] + bytes([INT3]) + b"\xdd"
    mem[18:22] = data
    sw.remove(20, 1)
    assert mem[20] == 0xCC  # the byte the user wrote, restored


def test_lift_and_drop_for_a_step_over():
    mem, sw = memory()
    sw.insert(3, 1)
    assert sw.lift(3) and mem[3] == 3 and not sw.is_ours(3)
    assert sw.mask(3, bytes(mem[3:4])) == b"\x03"
    sw.drop(3)
    assert mem[3] == INT3 and sw.is_ours(3)


def test_remove_all_restores_everything_and_strip_writes_elsewhere():
    mem, sw = memory()
    for addr in (1, 2, 40):
        sw.insert(addr, addr)
    child = bytearray(mem)
    sw.strip(lambda addr, data: child.__setitem__(slice(addr, addr + len(data)), data))
    assert child == bytearray(range(64))
    sw.remove_all()
    assert mem == bytearray(range(64)) and not sw


def test_forget_after_exec_writes_nothing():
    mem, sw = memory()
    sw.insert(7, 1)
    mem[7] = 0x90  # the new image
    sw.forget()
    assert mem[7] == 0x90 and not sw.ever
