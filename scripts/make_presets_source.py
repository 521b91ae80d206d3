#!/usr/bin/env python3
"""Regenerates Sources/SpecTopApp/Config/Presets.swift from examples/*.toml.
The presets ship inside the binary; PresetTests checks both stay identical."""
import os
root = os.path.join(os.path.dirname(__file__), "..")
names = ["reach", "digits", "lazy-rich", "tiny"]
out = ['/// The built-in presets: the text of `examples/<name>.toml`, embedded so the',
       '/// installed binary needs no files. A test checks the two never drift apart.',
       '/// Regenerate with scripts/make_presets_source.py after editing an example.',
       'public enum Presets {', '    public static let defaultName = "reach"',
       '    public static let names = [' + ", ".join(f'"{n}"' for n in names) + ']', '',
       '    public static func text(_ name: String) -> String? {', '        switch name {']
for n in names:
    out.append(f'        case "{n}": return {n.replace("-", "")}')
out += ['        default: return nil', '        }', '    }', '']
for n in names:
    text = open(os.path.join(root, "examples", f"{n}.toml")).read()
    out.append(f'    static let {n.replace("-", "")} = """')
    for line in text.rstrip("\n").split("\n"):
        out.append(("        " + line.replace("\\", "\\\\")).rstrip())
    out.append('')
    out.append('        """')
    out.append('')
out.append('}')
with open(os.path.join(root, "Sources", "SpecTopApp", "Config", "Presets.swift"), "w") as f:
    f.write("\n".join(out) + "\n")
