#!/usr/bin/env python3
"""The independent oracle of the tensor-type table: bitstudio's decoders against llama.cpp's gguf-py.

    check_gguf_types.py GGUF_DEQUANTIZE WORK_DIR

(a) writes, with gguf-py's GGUFWriter, one GGUF per tensor type whose tensors (odd row counts, 2-D and 3-D) hold
    random blocks: random bytes with the scale fields set to finite fp16 / fp32 values, plus one tensor of fully
    random bytes (NaN and infinite scales included);
(b) decodes every tensor with tests/tools/gguf_dequantize (bitstudio's GGUF reader and tensor-type table);
(c) compares with gguf.quants.dequantize bit for bit (NaN equals NaN, whatever its payload); for the types
    gguf-py does not decode (Q1_0, Q8_K, I8, I32) the reference is a short numpy decoder written here;
(d) does the same for every tensor of SmolLM2-135M-Instruct Q4_1.

Runs under $BQ_PYTHON (packaging/python-oracles.sh: numpy and gguf). Exit 77 (CTest skip) when BQ_PYTHON or
the model is missing, unless CI is set (CI not "", "0", "false"): then a missing prerequisite fails.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_env import skip_or_fail, smollm2_path, use_oracle_python  # noqa: E402

use_oracle_python(["numpy", "gguf"])

import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

# Byte offsets of the fp16 scale fields inside one block (ggml-common.h), set to finite values in the
# "moderate" tensors so most weights are finite numbers; Q8_K's scale is an fp32 at offset 0, MXFP4's an 8-bit
# exponent; NVFP4's e4m3 scales are finite whatever their bits.
HALF_SCALES = {
    "Q8_0": [0], "Q4_0": [0], "Q1_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
    "IQ4_NL": [0], "IQ4_XS": [0], "TQ1_0": [52], "TQ2_0": [64],
}
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q1_0", "I8", "I32", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
         "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4"]
# (rows..., blocks per row): odd row counts, one 3-D tensor.
SHAPES = [(1, 5), (7, 3), (13, 1), (3, 2, 4), (31, 2)]


def reference(raw, qtype):
    """gguf-py's dequantize, or a numpy decoder of the format for the types gguf-py does not decode."""
    name = qtype.name
    block, size = GGML_QUANT_SIZES[qtype]
    blocks = raw.reshape(-1, size)
    if name == "I8":
        return blocks.view(np.int8).astype(np.float32).reshape(-1)
    if name == "I32":
        return blocks.view(np.int32).astype(np.float32).reshape(-1)
    if name == "Q8_K":  # float32 d, int8 q[256], int16 bsums[16]: w = d · q
        d = blocks[:, 0:4].copy().view(np.float32)
        with np.errstate(all="ignore"):
            return (d * blocks[:, 4:4 + block].view(np.int8).astype(np.float32)).reshape(-1)
    if name == "Q1_0":  # fp16 d, 16 bytes of signs (bit j % 8 of byte j / 8): w = bit ? d : −d
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        bits = np.unpackbits(blocks[:, 2:], axis=1, bitorder="little")
        return np.where(bits == 1, d, -d).astype(np.float32).reshape(-1)
    with np.errstate(all="ignore"):  # the fully random tensors hold NaN and infinite scales on purpose
        return gguf.quants.dequantize(raw.reshape(-1), qtype).astype(np.float32, copy=False).reshape(-1)


def same_bits(a, b):
    """Bitwise equality, NaN equal to NaN. Returns the number of differing elements."""
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    b = np.asarray(b, dtype=np.float32).reshape(-1)
    if a.shape != b.shape:
        return max(a.size, b.size)
    both_nan = np.isnan(a) & np.isnan(b)
    return int(np.count_nonzero((a.view(np.uint32) != b.view(np.uint32)) & ~both_nan))


def decode_with_bitstudio(tool, path, out):
    run = subprocess.run([tool, path, out], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"FAIL: gguf_dequantize {path}: exit {run.returncode}: {run.stderr.strip()}")
    # Mapped, not read: the model's values are half a gigabyte. The caller removes the file after comparing.
    values = np.memmap(out, dtype=np.float32, mode="r") if os.path.getsize(out) else np.zeros(0, np.float32)
    listing, at = {}, 0
    for line in run.stdout.splitlines():
        name, type_name, count = line.split("\t")
        listing[name] = (type_name, values[at:at + int(count)])
        at += int(count)
    if at != values.size:
        raise SystemExit(f"FAIL: {out}: {values.size} floats, the listing names {at}")
    return listing


def random_blocks(rng, qtype, n_blocks, moderate):
    name = qtype.name
    _, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if moderate:
        for off in HALF_SCALES.get(name, []):
            scales = rng.uniform(-4.0, 4.0, n_blocks).astype(np.float16)
            raw[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
        if name == "MXFP4":  # E8M0 exponents near 2^0
            raw[:, 0] = rng.integers(110, 140, n_blocks, dtype=np.uint8)
        if name == "Q8_K":
            raw[:, 0:4] = rng.uniform(-4.0, 4.0, n_blocks).astype(np.float32).view(np.uint8).reshape(n_blocks, 4)
        if name in ("F16", "BF16", "F32"):  # plain floats: finite values
            values = rng.standard_normal(n_blocks).astype(np.float32)
            if name == "F16":
                raw = values.astype(np.float16).view(np.uint8).reshape(n_blocks, size)
            elif name == "BF16":
                raw = (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(n_blocks, size)
            else:
                raw = values.view(np.uint8).reshape(n_blocks, size)
    return raw


def check_random_types(tool, work):
    rng = np.random.default_rng(20261207)
    failures, total_blocks = [], 0
    for name in TYPES:
        qtype = T[name]
        block, size = GGML_QUANT_SIZES[qtype]
        path = os.path.join(work, f"random_{name}.gguf")
        writer = gguf.GGUFWriter(path, "oracle")
        expected = {}
        shapes = [(s, True) for s in SHAPES] + [((9, 2), False)]
        for i, (shape, moderate) in enumerate(shapes):
            *rows, blocks_per_row = shape
            n_rows = int(np.prod(rows))
            raw = random_blocks(rng, qtype, n_rows * blocks_per_row, moderate)
            tensor_name = f"{'moderate' if moderate else 'raw'}.{i}"
            # A uint8 array with raw_dtype: gguf-py takes its shape in bytes and stores the element shape.
            writer.add_tensor(tensor_name, raw.reshape(*rows, blocks_per_row * size), raw_dtype=qtype)
            expected[tensor_name] = (reference(raw, qtype), n_rows * blocks_per_row)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        got = decode_with_bitstudio(tool, path, os.path.join(work, f"random_{name}.f32"))
        blocks_here = 0
        for tensor_name, (ref, n_blocks) in expected.items():
            type_name, values = got.get(tensor_name, (None, np.zeros(0, np.float32)))
            if type_name != name:
                failures.append(f"{name} {tensor_name}: bitstudio read type {type_name}")
                continue
            bad = same_bits(values, ref)
            if bad:
                failures.append(f"{name} {tensor_name}: {bad} of {ref.size} weights differ")
            blocks_here += n_blocks
        total_blocks += blocks_here
        print(f"{name:7s} {blocks_here:4d} blocks ({blocks_here * block} weights): "
              f"{'exact' if not any(f.startswith(name + ' ') for f in failures) else 'DIFFERENT'}")
    return failures, total_blocks


def check_model(tool, path, work):
    reader = gguf.GGUFReader(path)
    decoded = os.path.join(work, "model.f32")
    got = decode_with_bitstudio(tool, path, decoded)
    failures, counts = [], {}
    for t in reader.tensors:
        qtype = T(int(t.tensor_type))
        ref = reference(np.asarray(t.data).view(np.uint8), qtype)
        type_name, values = got[t.name]
        if type_name != qtype.name:
            failures.append(f"{t.name}: bitstudio read {type_name}, the file says {qtype.name}")
            continue
        bad = same_bits(values, ref)
        if bad:
            failures.append(f"{t.name} ({qtype.name}): {bad} of {ref.size} weights differ")
        counts[qtype.name] = counts.get(qtype.name, 0) + 1
    del got
    os.remove(decoded)
    print(f"{os.path.basename(path)}: {len(reader.tensors)} tensors ("
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + "): "
          + ("exact" if not failures else "DIFFERENT"))
    return failures


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures, blocks = check_random_types(tool, work)
    print(f"random blocks: {len(TYPES)} types, {blocks} blocks, "
          + ("all bit-identical to the reference" if not failures else f"{len(failures)} tensors differ"))
    model = smollm2_path()
    have_model = os.path.exists(model)
    if have_model:
        failures += check_model(tool, model, work)
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    if not have_model:
        skip_or_fail(f"SmolLM2-135M-Instruct is not at {model}: run `bash packaging/fetch-models.sh` "
                "(the random-block checks above passed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
