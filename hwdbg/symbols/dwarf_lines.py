"""The line tables of one file's DWARF, decoded one compilation unit at a time: address ->
file:line, file:line -> address, the rows stepping follows (gdb's rules). A mixin of
``DwarfInfo`` (symbols/dwarf.py), which finds the units."""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

from hwdbg.symbols import gdb_lines, line_program, line_table, unit_header
from hwdbg.symbols.line_table import UnitLines
from hwdbg.symbols.dwarf_types import PARSE_ERRORS, _attr_value, _text, _unit_key, file_matcher


def _row(state, files: list[str]) -> gdb_lines.Row:
    return gdb_lines.Row(state.address, files[state.file] if state.file < len(files) else "", state.line,
                         bool(state.is_stmt), getattr(state, "discriminator", 0) or 0, bool(state.end_sequence))


class LineTables:
    """Line-table queries, for a class that has ``_dwarf``, ``_units``, ``_unit_at``, ``small``
    and the ``_unit_files``, ``_unit_lines``, ``_unit_statements``, ``_unit_headers`` and
    ``_display`` caches."""

    _dwarf: Any
    _unit_files: dict
    _unit_lines: dict
    _unit_statements: dict
    _unit_headers: dict
    _display: dict
    small: bool

    def _units(self) -> list[Any]:  # pragma: no cover - supplied by DwarfInfo
        raise NotImplementedError

    def _unit_at(self, link_addr: int) -> Any:  # pragma: no cover - supplied by DwarfInfo
        raise NotImplementedError

    def _header(self, cu) -> Optional[unit_header.LineHeader]:
        """The unit's line header read from the bytes (symbols/unit_header.py), or None."""
        key = _unit_key(cu)
        if key not in self._unit_headers:
            self._unit_headers[key] = unit_header.read(self._dwarf, cu.cu_offset) if key[0] == "CompileUnit" else None
        return self._unit_headers[key]

    def _files_of(self, cu) -> list[str]:
        if _unit_key(cu) not in self._unit_files:
            header = self._header(cu)
            if header is not None:
                files = self._header_files(cu, header)
            else:
                try:
                    program = self._dwarf.line_program_for_CU(cu)
                    files = self._file_table(cu, program) if program is not None else []
                except PARSE_ERRORS:
                    files = []
            self._unit_files[_unit_key(cu)] = files
        return self._unit_files[_unit_key(cu)]

    def _header_files(self, cu, header: unit_header.LineHeader) -> list[str]:
        return self._file_names(cu, header.version, _text(header.comp_dir), [_text(d) for d in header.directories],
                                [(_text(name), index) for name, index in header.files])

    def _file_table(self, cu, program) -> list[str]:
        header = program.header
        return self._file_names(cu, header["version"], _text(_attr_value(cu.get_top_DIE(), "DW_AT_comp_dir")),
                                [_text(d) for d in header["include_directory"]],
                                [(_text(entry.name), entry.dir_index or 0) for entry in header["file_entry"]])

    def _file_names(self, cu, version: int, comp_dir: str, dirs: list[str], entries: list[tuple[str, int]]) -> list[str]:
        """The paths of a unit's files by number, from its line header's directories and
        (name, directory index) entries; records the name gdb shows for each."""
        if version < 5:
            dirs = [comp_dir] + dirs  # directory 0 is implicitly the compilation directory
        files = []
        for name, index in entries:
            directory = dirs[index] if index < len(dirs) else ""
            if index and directory and not os.path.isabs(directory) and comp_dir:
                directory = os.path.join(comp_dir, directory)
            path = name if os.path.isabs(name) or not directory else os.path.join(directory, name)
            files.append(os.path.normpath(path))
            # gdb shows a file as the compiler named it: relative to the compilation directory.
            recorded = dirs[index] if index and index < len(dirs) else ""
            if version >= 5 and not index and dirs and not os.path.isabs(dirs[0]):
                recorded = dirs[0]  # a relative directory 0 (glibc's "./misc") stays in the name
            shown = name if os.path.isabs(name) or not recorded else os.path.join(recorded, name)
            self._display.setdefault(files[-1], shown)
            self._display.setdefault((_unit_key(cu), files[-1]), shown)  # each unit names its files
        return files if version >= 5 else [""] + files  # file numbers are 1-based before DWARF 5

    def _lines_of(self, cu) -> UnitLines:
        table = self._unit_lines.get(_unit_key(cu))
        if table is not None:
            return table
        header = self._header(cu)
        table = None
        if header is not None:  # the fast way: no pyelftools
            files = self._files_of(cu)  # made from the header too
            table = line_table.build_from_header(self._dwarf.debug_line_sec, header, files)
        if table is None:
            try:
                program = self._dwarf.line_program_for_CU(cu)
                files = self._file_table(cu, program) if program is not None else []
                self._unit_files.setdefault(_unit_key(cu), files)  # _files_of need not parse the header again
                table = line_table.build(program, files) if program is not None else UnitLines(files)
            except PARSE_ERRORS:
                table = None
        if table is None:  # pyelftools decodes it, Python builds the tables
            files, sequences = self._sequences_of(cu)
            table = line_table.from_states([s for sequence in sequences for s in sequence], files)
        self._unit_lines[_unit_key(cu)] = table
        return table

    def _sequences_of(self, cu) -> tuple[list[str], list[list[Any]]]:
        """The unit's file table and its line-program states, one list per sequence."""
        header = self._header(cu)
        states = line_program.states_of_header(self._dwarf.debug_line_sec, header) if header is not None else None
        if states is not None:
            files = self._files_of(cu)  # made from the header too
        else:
            try:
                program = self._dwarf.line_program_for_CU(cu)
                states = line_program.states(program) if program else []  # decoded in C when it can be
                files = self._file_table(cu, program) if program else []
            except PARSE_ERRORS:
                return [], []
        sequences, sequence = [], []
        for state in states:
            sequence.append(state)
            if state.end_sequence:
                sequences.append(sequence)
                sequence = []
        return files, sequences

    def _statements_of(self, cu) -> dict[str, list[tuple[int, int]]]:
        """gdb's statement entries of the unit, path -> [(line, address)], made on first use
        (the program is decoded again: in C that costs less than keeping its states)."""
        key = _unit_key(cu)
        found = self._unit_statements.get(key)
        if found is None:
            found = self._unit_statements[key] = {}
            for path, line, addr in self._statement_rows(cu):
                found.setdefault(path, []).append((line, addr))
        return found

    def _statement_rows(self, cu) -> list[tuple[str, int, int]]:
        header = self._header(cu)
        if header is not None:  # in C
            files = self._files_of(cu)
            paths = sorted({path for path in files if path})
            ids = {path: i for i, path in enumerate(paths)}
            rows = line_program.statements_of_header(self._dwarf.debug_line_sec, header, len(files),
                                                     [ids.get(path, -1) for path in files])
            if rows is not None:
                return [(paths[path_id], line, addr) for path_id, line, addr in rows]
        files, sequences = self._sequences_of(cu)
        by_file: dict[str, list[gdb_lines.Entry]] = {}
        for sequence in sequences:
            if sequence[0].address != 0:  # code the linker discarded
                gdb_lines.record_sequence([_row(s, files) for s in sequence], by_file)
        return gdb_lines.statements(by_file)

    def line_at(self, link_addr: int) -> Optional[tuple[str, int]]:
        """(source path, line) of the code at ``link_addr``, or None."""
        cu = self._unit_at(link_addr)
        if cu is not None:
            found = self._lines_of(cu).at(link_addr)
            if found is not None or not self.small:
                return found
        elif self._aranges is not None and not self.small:
            return None  # trust the index of a big file rather than decode all of it
        for cu in self._units():
            found = self._lines_of(cu).at(link_addr)
            if found is not None:
                return found
        return None

    def display_name(self, path: str, link_addr: Optional[int] = None) -> str:
        """The name gdb shows for a source file of the line table (as the compiler was given it);
        ``link_addr``: as the unit of the code there names it (units name a header differently)."""
        cu = self._unit_at(link_addr) if link_addr is not None else None
        if cu is not None:
            self._files_of(cu)
            shown = self._display.get((_unit_key(cu), path))
            if shown is not None:
                return shown
        return self._display.get(path, path)

    def row_start(self, link_addr: int) -> Optional[int]:
        """Where the line-table row containing ``link_addr`` starts (gdb's sal.pc), or None."""
        cu = self._unit_at(link_addr)
        return None if cu is None else self._lines_of(cu).row_start(link_addr)

    def _named(self, cu, matches: Callable[[str], bool]) -> set[str]:
        """The unit's source paths that name the file the user typed: by their path, or as the
        compiler was given them (gdb matches both: ``../Objects/object.c`` from a build directory)."""
        key = _unit_key(cu)
        return {path for path in self._files_of(cu)
                if path and (matches(path) or matches(self._display.get((key, path), path)))}

    def unit_of_source(self, path: str, link_addr: Optional[int] = None) -> Any:
        """The unit a source file belongs to, as gdb's `info source` sees it: the unit of the code
        at ``link_addr`` when it names the file, else the first unit compiled from it, else the
        first whose line table names it (a header); None if none does."""
        cu = self._unit_at(link_addr) if link_addr is not None else None
        if cu is not None and path in self._files_of(cu):
            return cu
        naming = [unit for unit in self._units() if path in self._files_of(unit)]
        primary = [unit for unit in naming if self._files_of(unit)[1:2] == [path] or self._files_of(unit)[:1] == [path]]
        return (primary or naming or [None])[0]

    def _statements_in(self, file: str) -> list[tuple[str, int, int]]:
        rows = []
        matches = file_matcher(file)
        for cu in self._units():
            # The file table is cheap; decode only the units that mention the file.
            named = self._named(cu, matches)
            if named:
                for path, entries in self._statements_of(cu).items():
                    if path in named:
                        rows += [(path, line, addr) for line, addr in entries]
        return rows

    def line_entry(self, link_addr: int) -> Optional[tuple[int, int, str, int, bool]]:
        """The line-table entry holding ``link_addr`` as gdb's find_pc_line sees it: (start, end,
        path, line, is_stmt); None where there is no line. Stepping stops at an entry's start."""
        cu = self._unit_at(link_addr)
        units = [cu] if cu is not None else (self._units() if self.small else [])
        for unit in units:
            found = self._lines_of(unit).entry(link_addr)
            if found is not None:
                return found
        return None

    def line_addresses(self, file: str, line: int) -> list[int]:
        """Every is_stmt address of file:line, sorted (gdb's find_pcs_for_symtab_line)."""
        return sorted({addr for _, row_line, addr in self._statements_in(file) if row_line == line})

    def address_of_line(self, file: str, line: int) -> Optional[int]:
        """Lowest statement address for file:line (file by basename, suffix or path), or None."""
        addresses = [addr for _, row_line, addr in self._statements_in(file) if row_line == line]
        return min(addresses) if addresses else None

    def prologue_end_in(self, low: int, high: int, cu: Any = None) -> Optional[int]:
        """The first address in [low, high) the compiler marked prologue_end, or None; ``cu``:
        the unit of the function (else found by address: every unit's table, in a small file)."""
        cu = cu if cu is not None else self._unit_at(low)
        for unit in [cu] if cu is not None else self._units() if self.small else []:
            marked = self._lines_of(unit).prologue_end_in(low, high)
            if marked is not None:
                return marked
        return None

    def source_path(self, file: str) -> Optional[str]:
        """The full path the line tables give the source file ``file`` (basename, suffix or path)."""
        matches = file_matcher(file)
        for cu in self._units():
            named = self._named(cu, matches)
            for path in self._files_of(cu):
                if path in named:
                    return path  # in the order of the unit's file table
        return None

    def lines_in(self, file: str) -> list[int]:
        """Sorted lines of ``file`` that have code."""
        return sorted({row_line for _, row_line, _ in self._statements_in(file)})
