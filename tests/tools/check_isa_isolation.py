#!/usr/bin/env python3
"""Proves that instruction-set-specific code cannot leak out of its run-time dispatch.

Files named *_avx2.cpp / *_avxvnni.cpp / *_avx512.cpp are compiled with -mavx2 / -mavxvnni / -mavx512* and
-fno-weak (core/CMakeLists.txt).
If such a file emitted a shared (weak) definition of a template or inline function (std::vector<int>::assign,
std::min, an Eigen kernel), the linker would keep one copy for the whole program, possibly the AVX-512 one, and
generic code would execute AVX-512 instructions on a CPU without them (SIGILL). Two checks, both independent of
the CPU this runs on:

  objects BUILD_DIR   nm over every object file: an ISA object defines no weak symbol, no global symbol it
                      defines is defined by any other object (generic or another ISA), and it has no static
                      constructor (those run at program start on every CPU, before any dispatch); an AVX-VNNI
                      object holds no AVX-512 instruction (zmm or mask registers, EVEX encoding), since that level
                      is meant for CPUs without AVX-512.
  binary EXE MAP      objdump over a linked executable: generic code (outside the address ranges the linker map
                      gives the ISA objects) calls into ISA code only at a dispatch entry point, and executes
                      no instruction beyond baseline x86-64 (VEX/EVEX encodings, ymm/zmm/mask registers) except
                      in functions compiled with a target attribute (named ...Avx2 / ...Avx512).
  binaries BUILD_DIR  the binary check for bitstudio-cli and bitstudio under BUILD_DIR.
"""
import os
import re
import subprocess
import sys

ISA_OBJECT = re.compile(r"_(avx2|avxvnni|avx512)\.cpp\.o$")
AVXVNNI_OBJECT = re.compile(r"_avxvnni\.cpp\.o$")
# The personality-routine pointer is data, the same in every object; it carries no code.
HARMLESS_WEAK = {"DW.ref.__gxx_personality_v0"}
# Common symbols (nm type C) are zero-initialised data: under -fno-weak GCC emits the empty function objects
# of <ranges> (std::ranges::lexicographical_compare, ...) so. Data holds no instructions.
HARMLESS_KINDS = "C"
# Generic files may hold single functions compiled with __attribute__((target(...))); they are named so.
TARGET_ATTRIBUTE_FUNCTION = re.compile(r"(Avx2|AvxVnni|Avx512)\b|(Avx2|AvxVnni|Avx512)[A-Z(]")


def object_files(build_dir):
    for root, _dirs, files in os.walk(build_dir):
        for name in files:
            if name.endswith(".o"):
                yield os.path.join(root, name)


def defined_globals(path):
    """(symbol, nm type letter) for every global definition in an object file."""
    out = subprocess.run(["nm", "--defined-only", "--extern-only", path], capture_output=True, text=True,
                         check=True).stdout
    result = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            result.append((parts[2], parts[1]))
    return result


def demangle(names):
    if not names:
        return []
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def startup_code_problems(path):
    """Code an ISA object runs at program start, on every CPU, before any dispatch: C++ dynamic initialisers
    (_GLOBAL__sub_I_*) and the constructors a sanitizer adds to each object (_sub_I_*). They, and every function
    of the same object they call, must use no instruction beyond baseline x86-64. (At -O3 Eigen's namespace-scope
    constants fold away; at -O1 they are initialised at start-up, with whatever instructions the file allows.)"""
    symbols = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    local = {parts[2] for parts in (line.split() for line in symbols.splitlines()) if len(parts) >= 3}
    starts = [n for n in local if n.startswith("_GLOBAL__sub_") or re.match(r"_sub_[ID]_\d+_\d+$", n)]
    problems, seen = [], set()

    def visit(name, start):
        if name in seen:
            return
        seen.add(name)
        listing = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", f"--disassemble={name}", path],
                                 capture_output=True, text=True, check=True).stdout
        # objdump (binutils 2.40) prints the relocations of the whole section before the function's first
        # instruction; only those inside the function's own address range are its calls.
        instructions = [m for m in INSTRUCTION.finditer(listing) if not m.group(2).startswith("R_X86_64_")]
        for insn in instructions:
            if needs_more_than_baseline(insn.group(2), insn.group(3)):
                problems.append((start, f"start-up code ({name}) executes `{insn.group(2)} {insn.group(3)}`"))
                return
        if not instructions:
            return
        first, last = int(instructions[0].group(1), 16), int(instructions[-1].group(1), 16)
        for offset, callee in re.findall(r"^\s*([0-9a-f]+): R_X86_64_(?:PLT|PC)32\s+([^\s+-]+)", listing, re.M):
            if first <= int(offset, 16) <= last + 15 and callee in local and callee != name and \
                    not callee.startswith("."):
                visit(callee, start)

    for start in sorted(starts):
        visit(start, start)
    return problems


AVX512_OPERAND = re.compile(r"%zmm\d+|%k[0-7]\b|\{evex\}")


def avx512_instructions(path):
    """The first AVX-512 instruction of an object that must run without AVX-512 (as a one-item list), or []."""
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True,
                             check=True).stdout
    for insn in INSTRUCTION.finditer(listing):
        text = insn.group(2) + " " + insn.group(3)
        # EVEX-only forms: zmm / mask registers, or xmm/ymm16-31.
        if AVX512_OPERAND.search(text) or re.search(r"%[xy]mm(1[6-9]|2\d|3[01])\b", text):
            return [f"AVX-512 instruction `{text.strip()}` in an AVX-VNNI object"]
    return []


def check_objects(build_dir):
    isa, generic = {}, {}
    for path in object_files(build_dir):
        (isa if ISA_OBJECT.search(path) else generic)[path] = defined_globals(path)
    if not isa:
        print(f"no ISA-specific object files under {build_dir}: build first", file=sys.stderr)
        return 1
    owners = {}
    for table in (isa, generic):
        for path, symbols in table.items():
            for symbol, _kind in symbols:
                owners.setdefault(symbol, []).append(path)
    failures = []
    for path, symbols in sorted(isa.items()):
        for symbol, kind in symbols:
            if kind in HARMLESS_KINDS or symbol in HARMLESS_WEAK:
                continue
            if kind in "WVuvi":
                failures.append((path, symbol, f"weak definition (nm type {kind})"))
            elif len(owners[symbol]) > 1:
                others = [os.path.relpath(p, build_dir) for p in owners[symbol] if p != path]
                failures.append((path, symbol, "also defined in " + ", ".join(others[:3])))
    for path in sorted(isa):
        failures.extend((path, symbol, why) for symbol, why in startup_code_problems(path))
        if AVXVNNI_OBJECT.search(path):
            failures.extend((path, "objdump", why) for why in avx512_instructions(path))
    names = demangle([s for _p, s, _w in failures])
    for (path, _symbol, why), name in zip(failures, names):
        print(f"LEAK {os.path.relpath(path, build_dir)}: {name}: {why}")
    count = sum(len(s) for s in isa.values())
    print(f"{len(isa)} ISA objects, {count} global symbols, {len(generic)} other objects: "
          f"{len(failures)} shared definitions")
    return 1 if failures else 0


MAP_LINE = re.compile(r"^\s*(\.text\S*)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o)\)?$")


def isa_ranges(map_path):
    """Address ranges of the code that the linker map says came from ISA objects."""
    ranges = []
    pending_section = None
    with open(map_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stripped = line.rstrip("\n")
            # A long section name sits alone on its line; its address, size and object follow on the next one.
            if re.match(r"^ \.text\S*$", stripped):
                pending_section = stripped.strip()
                continue
            m = re.match(r"^ (\.text\S*)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$", stripped)
            section = None
            if m and (m.group(1) or pending_section):
                section = m.group(1) or pending_section
                start, size, origin = int(m.group(2), 16), int(m.group(3), 16), m.group(4)
                if size and ISA_OBJECT.search(origin.rstrip(")")):
                    ranges.append((start, start + size))
            pending_section = None
            del section
    ranges.sort()
    return ranges


VECTOR_OPERAND = re.compile(r"%[yz]mm\d+|%k[0-7]\b")
FUNCTION_LABEL = re.compile(r"^([0-9a-f]+) <(.+)>:$")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)[ \t]*(.*)$", re.M)
BRANCH_TARGET = re.compile(r"^([0-9a-f]+) <(.+?)(\+0x[0-9a-f]+)?>$")
# The dispatch entry points: functions an ISA file exports for the generic dispatcher to call.
ENTRY_POINT = re.compile(r"(Avx2|AvxVnni|Avx512)\(|::(avx2|avxvnni|avx512)::")


def needs_more_than_baseline(mnemonic, operands):
    # Baseline x86-64 has SSE2 only: every VEX/EVEX-encoded instruction is spelled v... in AT&T syntax, and the
    # ymm/zmm/k registers exist only with AVX and AVX-512. (vfmadd, vpdpbusd, vmovdqu8, kmov... all match.)
    return (mnemonic.startswith("v") and mnemonic not in ("verr", "verw")) or mnemonic.startswith("kmov") \
        or VECTOR_OPERAND.search(operands) is not None


def check_binary(exe, map_path):
    ranges = isa_ranges(map_path)  # empty when the executable links no ISA object: then all code is generic

    def inside(address):
        lo, hi = 0, len(ranges)
        while lo < hi:
            mid = (lo + hi) // 2
            if ranges[mid][1] <= address:
                lo = mid + 1
            else:
                hi = mid
        return lo < len(ranges) and ranges[lo][0] <= address < ranges[lo][1]

    proc = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", "-C", "-j", ".text", exe],
                            stdout=subprocess.PIPE, text=True)
    function, leaks, vector_instructions, entry_calls = "?", {}, 0, 0
    for line in proc.stdout:
        m = FUNCTION_LABEL.match(line)
        if m:
            function = m.group(2)
            continue
        m = INSTRUCTION.match(line)
        if not m:
            continue
        address, mnemonic, operands = int(m.group(1), 16), m.group(2), m.group(3)
        if inside(address):
            continue
        # Generic code may enter ISA code only through a dispatch entry point, at its start.
        if mnemonic.startswith(("call", "jmp")):
            target = BRANCH_TARGET.match(operands)
            if target and inside(int(target.group(1), 16)):
                if ENTRY_POINT.search(target.group(2)) and not target.group(3):
                    entry_calls += 1
                else:
                    leaks.setdefault(function, f"calls {target.group(2)}, which an ISA object compiled")
            continue
        if not needs_more_than_baseline(mnemonic, operands):
            continue
        vector_instructions += 1
        if not TARGET_ATTRIBUTE_FUNCTION.search(function):
            leaks.setdefault(function, f"executes `{mnemonic} {operands}`".strip())
    if proc.wait() != 0:
        print(f"objdump failed on {exe}", file=sys.stderr)
        return 1
    for function, what in sorted(leaks.items()):
        print(f"LEAK {os.path.basename(exe)}: {function} {what} outside any dispatched kernel")
    print(f"{os.path.basename(exe)}: {len(ranges)} ISA code ranges entered by {entry_calls} calls to dispatch "
          f"entry points; {vector_instructions} AVX instructions in generic code (target-attribute functions "
          f"only); {len(leaks)} leaks")
    return 1 if leaks else 0


def check_all_binaries(build_dir):
    """check_binary for the executables users run (bitstudio-cli, bitstudio), in parallel. The object check
    covers every other executable, the tests included: they link the same objects."""
    from concurrent.futures import ThreadPoolExecutor
    jobs = []
    for root, _dirs, files in os.walk(build_dir):
        for name in sorted(files):
            if name in ("bitstudio-cli.map", "bitstudio.map") and os.path.isfile(os.path.join(root, name[:-4])):
                jobs.append((os.path.join(root, name[:-4]), os.path.join(root, name)))
    if not jobs:
        print(f"no bitstudio executables with a linker map under {build_dir}", file=sys.stderr)
        return 1
    with ThreadPoolExecutor(max_workers=2) as pool:
        return max(pool.map(lambda job: check_binary(*job), jobs))


def main(argv):
    if len(argv) == 3 and argv[1] == "objects":
        return check_objects(argv[2])
    if len(argv) == 3 and argv[1] == "binaries":
        return check_all_binaries(argv[2])
    if len(argv) == 4 and argv[1] == "binary":
        return check_binary(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
