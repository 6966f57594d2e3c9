#!/usr/bin/python3
"""Builds the deformconv_* fixtures of testdata/opset18plus/: one-node
DeformConv-19 graphs (2-D), in the ONNX backend-test layout:
    deformconv_<name>/model.onnx
    deformconv_<name>/test_data_set_0/input_N.pb    (written here, named after the graph input)
    deformconv_<name>/test_data_set_0/output_N.pb   (written by ../exported/ort_reference.js: ONNX Runtime's output)

python3-onnx 1.12 predates DeformConv (ONNX 1.15), so the node is written by
hand with onnx.helper and never passed to onnx.checker; opset 19, IR version 9.
Inputs are seeded, so the folders are rebuilt byte for byte.

--check compares the output_0.pb files (ONNX Runtime's) with a direct numpy
loop over the ONNX definition (reference() below).

usage (Debian's python: python3-onnx 1.12 and numpy):
    /usr/bin/python3 make_deformconv.py [--out DIR] [--only NAME,...] [--list] [--check]
"""
import argparse
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET, IR_VERSION = 19, 9
CASES = []  # (name, builder)
ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}
INPUT_NAMES = ["X", "W", "offset", "B", "mask"]


def case(fn):
    CASES.append(("deformconv_" + fn.__name__, fn))
    return fn


def out_size(size, k, s, d, pb, pe):
    return (size + pb + pe - ((k - 1) * d + 1)) // s + 1


def make(seed, x_shape, w_shape, attrs, bias=False, mask=False, off_scale=1.0, dtype=np.float32):
    """Random inputs for one DeformConv node; returns (attrs, [(name, array)]) with omitted inputs as None."""
    r = np.random.default_rng(seed)
    n, _, h, w = x_shape
    kh, kw = w_shape[2:]
    s = attrs.get("strides", [1, 1])
    d = attrs.get("dilations", [1, 1])
    p = attrs.get("pads", [0, 0, 0, 0])
    og = attrs.get("offset_group", 1)
    oh, ow = out_size(h, kh, s[0], d[0], p[0], p[2]), out_size(w, kw, s[1], d[1], p[1], p[3])
    ins = [("X", r.standard_normal(x_shape)), ("W", r.standard_normal(w_shape)),
           ("offset", off_scale * r.standard_normal([n, og * 2 * kh * kw, oh, ow])),
           ("B", r.standard_normal([w_shape[0]]) if bias else None),
           ("mask", r.uniform(0, 1, [n, og * kh * kw, oh, ow]) if mask else None)]
    return attrs, [(nm, None if a is None else a.astype(dtype)) for nm, a in ins]


# ---- cases ----

@case
def basic():
    """3×3 kernel, no bias, no mask, offsets ~N(0, 0.7²): fractional positions, some past the border."""
    return make(1, [1, 2, 5, 5], [3, 2, 3, 3], {"kernel_shape": [3, 3]}, off_scale=0.7)


@case
def bias_mask_pads_strides():
    """bias and mask, pads 1, strides 2, two images."""
    return make(2, [2, 3, 6, 7], [4, 3, 3, 3], {"pads": [1, 1, 1, 1], "strides": [2, 2]},
                bias=True, mask=True)


@case
def group_offset_group():
    """group 2 and offset_group 2, dilations 2, asymmetric pads, mask, large offsets (many samples outside)."""
    return make(3, [1, 4, 7, 6], [6, 2, 2, 2],
                {"group": 2, "offset_group": 2, "dilations": [2, 2], "pads": [1, 0, 2, 1]},
                bias=True, mask=True, off_scale=2.5)


@case
def offset_group_rect_kernel():
    """group 1 with offset_group 2 (channels 0-1 and 2-3 move differently), 2×3 kernel, strides [1, 2]."""
    return make(4, [1, 4, 5, 8], [2, 4, 2, 3],
                {"offset_group": 2, "strides": [1, 2], "pads": [0, 1, 1, 1], "kernel_shape": [2, 3]},
                mask=True)


@case
def float64():
    """float64, two images, group 3, bias, no mask."""
    return make(5, [2, 3, 4, 5], [3, 1, 3, 2], {"group": 3, "pads": [1, 1, 1, 0]},
                bias=True, dtype=np.float64)


# ---- model writing ----

def model(name, attrs, ins):
    present = [(nm, a) for nm, a in ins if a is not None]
    node_in = [nm if a is not None else "" for nm, a in ins]
    while node_in and node_in[-1] == "":
        node_in.pop()
    dt = ONNX_TYPE[ins[0][1].dtype.type]
    g = helper.make_graph(
        [helper.make_node("DeformConv", node_in, ["Y"], **attrs)], name,
        [helper.make_tensor_value_info(nm, dt, list(a.shape)) for nm, a in present],
        [helper.make_tensor_value_info("Y", dt, None)])
    m = helper.make_model(g, producer_name="onyx make_deformconv.py",
                          opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = IR_VERSION
    return m, present


def write_case(out, name, attrs, ins):
    d = os.path.join(out, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    m, present = model(name, attrs, ins)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    for i, (nm, a) in enumerate(present):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, nm).SerializeToString())


# ---- numpy reference (the ONNX definition, loop by loop) ----

def reference(attrs, X, W, offset, B=None, mask=None):
    X, W, offset = (a.astype(np.float64) for a in (X, W, offset))
    n, c, h, w = X.shape
    oc, _, kh, kw = W.shape
    g, og = attrs.get("group", 1), attrs.get("offset_group", 1)
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    pt, pl, _, _ = attrs.get("pads", [0, 0, 0, 0])
    oh, ow = offset.shape[2:]
    off = offset.reshape(n, og, kh, kw, 2, oh, ow)
    mk = np.ones((n, og, kh, kw, oh, ow)) if mask is None else mask.astype(np.float64).reshape(n, og, kh, kw, oh, ow)

    def pix(b, ch, y, x):
        return X[b, ch, y, x] if 0 <= y < h and 0 <= x < w else 0.0

    def sample(b, ch, y, x):
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        ly, lx = y - y0, x - x0
        return ((1 - ly) * (1 - lx) * pix(b, ch, y0, x0) + (1 - ly) * lx * pix(b, ch, y0, x0 + 1) +
                ly * (1 - lx) * pix(b, ch, y0 + 1, x0) + ly * lx * pix(b, ch, y0 + 1, x0 + 1))

    cg, mg, cpo = c // g, oc // g, c // og
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for b in range(n):
        for ch in range(c):
            o = ch // cpo
            for i in range(kh):
                for j in range(kw):
                    for y in range(oh):
                        for x in range(ow):
                            py = y * sh - pt + i * dh + off[b, o, i, j, 0, y, x]
                            px = x * sw - pl + j * dw + off[b, o, i, j, 1, y, x]
                            cols[b, ch, i, j, y, x] = mk[b, o, i, j, y, x] * sample(b, ch, py, px)
    Y = np.zeros((n, oc, oh, ow))
    for gi in range(g):
        Wg = W[gi * mg:(gi + 1) * mg].reshape(mg, -1)
        Cg = cols[:, gi * cg:(gi + 1) * cg].reshape(n, -1, oh * ow)
        Y[:, gi * mg:(gi + 1) * mg] = np.einsum("mk,nkp->nmp", Wg, Cg).reshape(n, mg, oh, ow)
    if B is not None:
        Y += B.astype(np.float64).reshape(1, -1, 1, 1)
    return Y


def check(out, names):
    worst = 0.0
    for name, build in CASES:
        if name not in names:
            continue
        attrs, ins = build()
        want = reference(attrs, *(a for _, a in ins))
        with open(os.path.join(out, name, "test_data_set_0", "output_0.pb"), "rb") as f:
            t = TensorProto()
            t.ParseFromString(f.read())
        got = numpy_helper.to_array(t)
        diff = float(np.max(np.abs(got.astype(np.float64) - want)))
        worst = max(worst, diff)
        print("%-40s %s max |ORT - numpy| = %.3g" % (name, got.dtype, diff))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", default="", help="comma-separated case names (with or without deformconv_)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true", help="compare the ORT outputs with the numpy reference")
    args = ap.parse_args()
    only = {n if n.startswith("deformconv_") else "deformconv_" + n for n in args.only.split(",") if n}
    names = [n for n, _ in CASES]
    if args.list:
        print("\n".join(names))
        return
    unknown = only - set(names)
    if unknown:
        sys.exit("unknown cases: " + ", ".join(sorted(unknown)))
    selected = [n for n in names if not only or n in only]
    if args.check:
        check(args.out, set(selected))
        return
    for name, build in CASES:
        if name in selected:
            write_case(args.out, name, *build())
    print("%d cases written to %s" % (len(selected), args.out))


if __name__ == "__main__":
    main()
