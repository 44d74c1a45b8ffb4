#!/usr/bin/env python3
"""Checks every #include line against the dependency rule of the parts (README, "Layout").

    check_includes.py SOURCE_DIR PARTS_FILE

PARTS_FILE is written by core/CMakeLists.txt from the same table the libraries link by ("part: dep dep ...").
A core part may include its own headers and those of the parts it may use, directly or through another part.
The front ends and the widgets have their own lines below. Prints "file:line: ..." for each forbidden include.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
CORE_HEADER = re.compile(r"^bq/([a-z_]+)/")

# Outside core/: which core parts each folder may include ("*" = every part), plus single headers.
FRONT_ENDS = {
    "app/cli": {"parts": "*", "headers": set(), "widgets": False, "qt": False},
    "app/gui": {"parts": "*", "headers": set(), "widgets": True, "qt": True},
    "app": {"parts": "*", "headers": set(), "widgets": True, "qt": True},  # main_*.cpp
    # Views and item models read value types; they start no job and call no workflow.
    "widgets": {"parts": {"model", "tokenizer", "util", "quant"}, "headers": {"bq/jobs/events.h"},
                "widgets": True, "qt": True},
}


def read_rules(path):
    deps = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if ":" in line:
                part, rest = line.split(":", 1)
                deps[part.strip()] = set(rest.split())
    closure = {}
    for part in deps:
        seen, todo = set(), list(deps[part])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(deps.get(d, ()))
        closure[part] = seen | {part}
    return closure


def source_files(root, folder):
    base = os.path.join(root, folder)
    for dirpath, _dirs, files in os.walk(base):
        for name in sorted(files):
            if name.endswith((".h", ".cpp", ".inc", ".inl")):
                yield os.path.join(dirpath, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, closure = argv[1], read_rules(argv[2])
    problems, checked = [], 0

    def report(path, number, text):
        problems.append(f"{os.path.relpath(path, root)}:{number}: {text}")

    for part, allowed in sorted(closure.items()):
        for folder in (f"core/src/{part}", f"core/include/bq/{part}"):
            for path in source_files(root, folder):
                checked += 1
                for number, header in includes(path):
                    m = CORE_HEADER.match(header)
                    if m and m.group(1) not in allowed:
                        report(path, number, f"part '{part}' may not include {header} (part '{m.group(1)}'); "
                                             f"'{part}' may use: {', '.join(sorted(allowed - {part})) or 'nothing'}")
                    elif re.match(r"Q[A-Za-z]*(/|$)", header):
                        report(path, number, f"core/ is Qt-free, but this includes <{header}>")
    for folder, rule in FRONT_ENDS.items():
        for path in source_files(root, folder):
            rel = os.path.relpath(path, os.path.join(root, folder))
            if folder == "app" and os.sep in rel:
                continue  # app/cli and app/gui have their own rules
            checked += 1
            for number, header in includes(path):
                m = CORE_HEADER.match(header)
                if m:
                    ok = rule["parts"] == "*" or m.group(1) in rule["parts"] or header in rule["headers"]
                    if not ok:
                        report(path, number, f"{folder}/ may not include {header}: "
                                             f"views read value types and start no job (README, Layout)")
                elif header.startswith(("widgets/", "gui/")) and not rule["widgets"]:
                    report(path, number, f"{folder}/ may not include {header} (no Qt in this front end)")
                elif re.match(r"Q[A-Za-z]*(/|$)", header) and not rule["qt"]:
                    report(path, number, f"{folder}/ is Qt-free, but this includes <{header}>")
    for line in problems:
        print(line)
    print(f"{checked} files checked against {len(closure)} parts: {len(problems)} forbidden includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
