#!/usr/bin/env python3
"""Writes GGUF files laid out as stock llama.cpp writes them, with llama.cpp's own gguf-py writer, from an F32
GGUF (e.g. `bitstudio-cli convert ts5m.bin OUT --to gguf --dtype f32`): every KV of the source (tokenizer
included) is copied, norms stay F32, the tied `token_embd.weight` becomes Q6_K (llama-quantize's default for a
tied embedding next to Q1_0 bodies) and every 2-D `blk.*` weight becomes BODY:

  q1_0   sign x fp16(mean|w|) per 128 (written here: gguf 0.19 knows type 41 but has no Q1_0 quantizer)
  tq2_0  gguf.quants.quantize (llama.cpp's reference quantizer, ported)
  tq1_0  gguf.quants.quantize
  q4_1   gguf.quants.quantize (a type without packed kernels: the packed runtime repacks it to Q8_0)
  q5_0   gguf.quants.quantize (likewise)

Q6_K blocks are written here too (gguf 0.19 has no Q6_K quantizer): per 16 weights s = max|w|/31.5, d =
fp16(max s / 127), int8 scale round(s/d), q = clamp(round(w / (d * scale)), -32, 31); the layout is checked
by decoding it back with gguf.quants.dequantize (an independent decoder).

Also writes REF: the same model with every weight replaced by its dequantized values in F32 (Q6_K, TQ1_0, TQ2_0
dequantized by gguf-py; Q1_0 by the definition d * (2 bit - 1); the others by gguf-py), for `compare` against the fp32 runtime.

usage: make_llamacpp_layout.py SRC.gguf OUT.gguf REF.gguf BODY
"""
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants


def fp16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def q1_0_blocks(w):
    rows, k = w.shape
    b = w.reshape(rows, k // 128, 128)
    d = fp16(np.abs(b).mean(axis=-1, dtype=np.float64))
    bits = np.packbits((b >= 0).astype(np.uint8), axis=-1, bitorder="little")  # weight j: bit j%8 of byte j/8
    out = np.concatenate([d[..., None].view(np.uint8), bits], axis=-1)
    return out.reshape(rows, -1), (d.astype(np.float32)[..., None] * (2.0 * (b >= 0) - 1.0)).reshape(rows, k)


def q6_k_blocks(w):
    rows, k = w.shape
    x = w.reshape(-1, 16, 16).astype(np.float32)                      # [blocks, sub-block, weight]
    s = np.abs(x).max(axis=-1) / 31.5
    d = fp16(s.max(axis=-1) / 127.0)
    df = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.clip(np.round(s / df[:, None]), 0, 127), 0).astype(np.int8)
        step = df[:, None] * sc.astype(np.float32)
        q = np.where(step[..., None] > 0, np.clip(np.round(x / step[..., None]), -32, 31), 0).astype(np.int16)
    L = (q + 32).reshape(-1, 256).astype(np.uint8)                    # 0..63 per weight, block order
    nb = L.shape[0]
    ql = np.zeros((nb, 128), np.uint8)
    qh = np.zeros((nb, 64), np.uint8)
    for h in range(2):
        g = [L[:, 128 * h + 32 * i: 128 * h + 32 * i + 32] for i in range(4)]
        ql[:, 64 * h: 64 * h + 32] = (g[0] & 15) | ((g[2] & 15) << 4)
        ql[:, 64 * h + 32: 64 * h + 64] = (g[1] & 15) | ((g[3] & 15) << 4)
        qh[:, 32 * h: 32 * h + 32] = (g[0] >> 4) | ((g[1] >> 4) << 2) | ((g[2] >> 4) << 4) | ((g[3] >> 4) << 6)
    blocks = np.concatenate([ql, qh, sc.view(np.uint8), d[:, None].view(np.uint8)], axis=-1)
    assert blocks.shape[1] == 210
    return blocks.reshape(rows, -1)


def main():
    src, out, ref, body = sys.argv[1:5]
    body_type = {"q1_0": T.Q1_0, "tq2_0": T.TQ2_0, "tq1_0": T.TQ1_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0}[body]
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writers = [gguf.GGUFWriter(out, arch), gguf.GGUFWriter(ref, arch)]
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name.startswith("bitstudio.") or name in ("general.architecture", "general.alignment"):
            continue
        value = field.contents()
        if name == "general.file_type":
            value = {"q1_0": 40, "tq2_0": 37, "tq1_0": 36, "q4_1": 3, "q5_0": 8}[body]  # LLAMA_FTYPE_MOSTLY_*
        sub = field.types[1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        for w in writers:
            w.add_key_value(name, value, field.types[0], sub)
    if "output.weight" in [t.name for t in reader.tensors]:
        sys.exit("expected a tied embedding (no output.weight) in " + src)
    worst_q6 = 0.0
    for t in reader.tensors:
        data = np.array(t.data, dtype=np.float32)
        if t.name == "token_embd.weight":
            blocks = q6_k_blocks(data)
            deq = quants.dequantize(blocks, T.Q6_K).reshape(data.shape)
            worst_q6 = float(np.abs(deq - data).max() / np.abs(data).max())
            writers[0].add_tensor(t.name, blocks, raw_dtype=T.Q6_K)
        elif t.name.startswith("blk.") and data.ndim == 2:
            if body_type == T.Q1_0:
                blocks, deq = q1_0_blocks(data)
            else:
                blocks = quants.quantize(data, body_type)
                deq = quants.dequantize(blocks, body_type).reshape(data.shape)
            writers[0].add_tensor(t.name, blocks, raw_dtype=body_type)
        else:
            deq = data
            writers[0].add_tensor(t.name, data)
        writers[1].add_tensor(t.name, np.ascontiguousarray(deq, dtype=np.float32))
    # Q6_K of a smooth table: the largest error is under half a step of the coarsest sub-block scale.
    if not worst_q6 < 0.05:
        sys.exit(f"Q6_K round trip through gguf-py's dequantizer is off: max error {worst_q6:.4f} of max|w|")
    for w in writers:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    print(f"wrote {out} (Q6_K token_embd, {body_type.name} blk.*; Q6_K max error {worst_q6:.4f} of max|w|) and {ref}")


if __name__ == "__main__":
    main()
