#!/usr/bin/env python3
"""Regenerates Sources/SpectralCore/Resources/digits.bin from the UCI
optical-recognition handwritten digits (the 1,797-image set that scikit-learn
also ships as sklearn/datasets/data/digits.csv.gz).

Source: E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository, 1998, https://doi.org/10.24432/C50P49,
licensed CC BY 4.0.

Layout of the file: 1,797 records of 65 bytes: 64 pixel counts (0..16,
row-major 8x8) followed by the class label (0..9). SwiftPM compiles it into
the binary (`.embedInCode` in Package.swift), so the digits preset needs no
file beside the binary.
"""
import gzip, os, sys

src = sys.argv[1] if len(sys.argv) > 1 else None
if src is None:
    import sklearn
    src = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "digits.csv.gz")
rows = []
with gzip.open(src, "rt") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        values = [int(float(v)) for v in line.split(",")]
        assert len(values) == 65 and all(0 <= v <= 16 for v in values[:64]) and 0 <= values[64] <= 9
        rows.append(bytes(values))
assert len(rows) == 1797, len(rows)
blob = b"".join(rows)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "SpectralCore", "Resources", "digits.bin")
with open(out, "wb") as f:
    f.write(blob)
print("wrote %s (%d bytes)" % (os.path.normpath(out), len(blob)))
