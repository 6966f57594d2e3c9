#!/usr/bin/python3
"""Builds the vision_* fixtures of testdata/opset18plus/: one-node graphs for
the vision operators of opsets 18 to 21 that the ONNX 1.12 backend suite
lacks: GridSample-20 (N-D, modes linear/nearest/cubic), Col2Im-18,
CenterCropPad-18, GroupNormalization-18 and -21, AffineGrid-20.

Each case is a folder in the ONNX backend-test layout:
    vision_<name>/model.onnx
    vision_<name>/test_data_set_0/input_N.pb    (written here, named after the graph input)
    vision_<name>/test_data_set_0/output_N.pb   (written by ../exported/ort_reference.js: ONNX Runtime's outputs)

python3-onnx 1.12 knows none of these operator versions, so the nodes are
written by hand with onnx.helper and never passed to onnx.checker or shape
inference. The IR version is the one each opset was released with (18: 8,
19 and 20: 9, 21: 10). Inputs are seeded, so the folders are rebuilt byte
for byte.

usage (Debian's python: python3-onnx 1.12 and numpy):
    /usr/bin/python3 make_vision.py [--out DIR] [--only NAME,...] [--list]
"""
import argparse
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
IR_VERSION = {18: 8, 19: 9, 20: 9, 21: 10}
PREFIX = "vision_"
CASES = []  # (name, builder)

F = TensorProto.FLOAT
D = TensorProto.DOUBLE
I32 = TensorProto.INT32
I64 = TensorProto.INT64

_NP_TO_ONNX = {
    np.float32: F, np.float64: D, np.float16: TensorProto.FLOAT16,
    np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8, np.int16: TensorProto.INT16,
    np.int32: I32, np.int64: I64, np.bool_: TensorProto.BOOL,
}


def case(fn):
    CASES.append((PREFIX + fn.__name__, fn))
    return fn


def rng(seed):
    return np.random.default_rng(seed)


def f32(r, *shape):
    return r.standard_normal(shape).astype(np.float32)


def uniform(r, lo, hi, *shape, dtype=np.float32):
    return r.uniform(lo, hi, shape).astype(dtype)


class Spec:
    """A one-node model and its test inputs."""

    def __init__(self, opset, node, inputs, out_type, inits=(), doc=""):
        self.opset = opset
        self.node = node
        self.inputs = inputs      # list of (name, np.ndarray): graph inputs and their test values
        self.out_type = out_type  # the element type of the one output "y"
        self.inits = inits        # list of (name, np.ndarray): initializers
        self.doc = doc

    def model(self, name):
        g = helper.make_graph(
            [self.node], name,
            [helper.make_tensor_value_info(n, _NP_TO_ONNX[a.dtype.type], list(a.shape)) for n, a in self.inputs],
            [helper.make_tensor_value_info("y", self.out_type, None)],
            [numpy_helper.from_array(a, n) for n, a in self.inits],
            doc_string=self.doc)
        m = helper.make_model(g, producer_name="onyx make_vision.py",
                              opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = IR_VERSION[self.opset]
        return m


def one(opset, op, inputs, out_type, attrs=None, inits=(), doc=""):
    """A single-node graph whose inputs are the graph inputs then the initializers."""
    names = [n for n, _ in inputs] + [n for n, _ in inits]
    node = helper.make_node(op, names, ["y"], **(attrs or {}))
    return Spec(opset, node, inputs, out_type, inits, doc)


# ---- GridSample-20: N-D, modes linear / nearest / cubic ----

def gridsample(seed, xshape, gshape, attrs, dtype=np.float32, lo=-1.3, hi=1.3):
    r = rng(seed)
    x = r.standard_normal(xshape).astype(dtype)
    g = uniform(r, lo, hi, *gshape, dtype=dtype)
    flat = g.reshape(-1, gshape[-1])
    flat[0] = -1.0
    flat[1] = 1.0
    flat[2] = 0.0
    return one(20, "GridSample", [("x", x), ("grid", g)], _NP_TO_ONNX[np.dtype(dtype).type], attrs)


@case
def gridsample_linear_20():
    return gridsample(1, (2, 3, 5, 6), (2, 4, 7, 2), {})


@case
def gridsample_linear_align_border_20():
    return gridsample(2, (1, 2, 4, 5), (1, 6, 5, 2), {"mode": "linear", "align_corners": 1, "padding_mode": "border"})


@case
def gridsample_linear_reflection_20():
    return gridsample(3, (1, 2, 4, 5), (1, 6, 5, 2), {"mode": "linear", "padding_mode": "reflection"}, lo=-3.5, hi=3.5)


@case
def gridsample_linear_reflection_align_20():
    return gridsample(4, (1, 2, 4, 5), (1, 6, 5, 2), {"mode": "linear", "padding_mode": "reflection",
                                                       "align_corners": 1}, lo=-3.5, hi=3.5)


@case
def gridsample_nearest_20():
    # x = ((g+1)*4-1)/2 on a width of 4: g in {-1, -0.5, 0, 0.5, 1} lands on .5 (rounded half to even)
    r = rng(5)
    x = r.standard_normal((1, 2, 4, 4)).astype(np.float32)
    vals = np.array([-1.25, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25], np.float32)
    gx, gy = np.meshgrid(vals, vals[::-1])
    g = np.stack([gx, gy], axis=-1)[None].astype(np.float32)
    return one(20, "GridSample", [("x", x), ("grid", g)], F, {"mode": "nearest"})


@case
def gridsample_nearest_reflection_align_20():
    return gridsample(6, (2, 2, 3, 5), (2, 4, 6, 2), {"mode": "nearest", "padding_mode": "reflection",
                                                       "align_corners": 1}, lo=-2.5, hi=2.5)


@case
def gridsample_cubic_20():
    return gridsample(7, (1, 2, 5, 6), (1, 5, 7, 2), {"mode": "cubic"})


@case
def gridsample_cubic_border_20():
    return gridsample(8, (1, 2, 5, 6), (1, 5, 7, 2), {"mode": "cubic", "padding_mode": "border"}, lo=-1.6, hi=1.6)


@case
def gridsample_cubic_reflection_align_20():
    return gridsample(9, (1, 1, 5, 6), (1, 5, 7, 2), {"mode": "cubic", "padding_mode": "reflection",
                                                       "align_corners": 1}, lo=-2.5, hi=2.5)


@case
def gridsample_linear_3d_20():
    return gridsample(10, (2, 2, 3, 4, 5), (2, 3, 4, 2, 3), {"mode": "linear"})


@case
def gridsample_linear_3d_reflection_align_20():
    return gridsample(11, (1, 2, 3, 4, 5), (1, 2, 3, 4, 3), {"mode": "linear", "padding_mode": "reflection",
                                                              "align_corners": 1}, lo=-2.5, hi=2.5)


@case
def gridsample_nearest_3d_border_20():
    return gridsample(12, (1, 2, 3, 4, 5), (1, 2, 3, 4, 3), {"mode": "nearest", "padding_mode": "border"})


@case
def gridsample_float64_20():
    return gridsample(13, (1, 2, 4, 5), (1, 3, 4, 2), {"mode": "cubic", "padding_mode": "border"}, dtype=np.float64)


# ---- AffineGrid-20 ----

def affinegrid(seed, n, size, align):
    k = len(size) - 2
    theta = (np.eye(k, k + 1)[None] + 0.3 * rng(seed).standard_normal((n, k, k + 1))).astype(np.float32)
    return one(20, "AffineGrid", [("theta", theta)], F, {"align_corners": align} if align is not None else None,
               inits=[("size", np.array(size, np.int64))])


@case
def affinegrid_2d_20():
    return affinegrid(20, 2, [2, 3, 4, 5], None)


@case
def affinegrid_2d_align_20():
    return affinegrid(21, 2, [2, 3, 4, 5], 1)


@case
def affinegrid_3d_20():
    return affinegrid(22, 2, [2, 1, 3, 4, 5], 0)


@case
def affinegrid_3d_align_20():
    return affinegrid(23, 1, [1, 1, 3, 2, 4], 1)


# ---- Col2Im-18 ----

def col2im(seed, n, c, image, block, attrs=None, as_inputs=False):
    k = len(image)
    dil = (attrs or {}).get("dilations", [1] * k)
    pads = (attrs or {}).get("pads", [0] * (2 * k))
    strides = (attrs or {}).get("strides", [1] * k)
    blocks = 1
    for i in range(k):
        blocks *= (image[i] + pads[i] + pads[i + k] - (dil[i] * (block[i] - 1) + 1)) // strides[i] + 1
    x = f32(rng(seed), n, c * int(np.prod(block)), blocks)
    shapes = [("image_shape", np.array(image, np.int64)), ("block_shape", np.array(block, np.int64))]
    if as_inputs:
        return one(18, "Col2Im", [("x", x)] + shapes, F, attrs)
    return one(18, "Col2Im", [("x", x)], F, attrs, inits=shapes)


@case
def col2im_18():
    return col2im(30, 1, 1, [5, 5], [1, 5])


@case
def col2im_overlap_batch_18():
    return col2im(31, 2, 3, [4, 5], [2, 3], as_inputs=True)


@case
def col2im_strides_pads_dilations_18():
    return col2im(32, 1, 2, [6, 7], [2, 2], {"strides": [2, 1], "pads": [1, 0, 2, 1], "dilations": [1, 2]})


@case
def col2im_3d_18():
    return col2im(33, 1, 2, [3, 4, 5], [2, 2, 3], {"strides": [1, 2, 1], "pads": [0, 1, 1, 1, 0, 0]})


@case
def col2im_1d_18():
    return col2im(34, 2, 2, [9], [3], {"strides": [2], "pads": [1, 2]})


# ---- CenterCropPad-18 ----

@case
def center_crop_pad_crop_18():
    return one(18, "CenterCropPad", [("x", f32(rng(40), 7, 8, 3)), ("shape", np.array([4, 5, 3], np.int64))], F)


@case
def center_crop_pad_pad_18():
    return one(18, "CenterCropPad", [("x", f32(rng(41), 3, 2, 4)), ("shape", np.array([6, 5, 4], np.int64))], F)


@case
def center_crop_pad_crop_and_pad_axes_18():
    return one(18, "CenterCropPad", [("x", f32(rng(42), 2, 5, 6, 3)), ("shape", np.array([8, 3], np.int64))], F,
               {"axes": [1, -2]})


@case
def center_crop_pad_int32_axes_18():
    # An int32 shape input is valid too (the unit tests cover it), but ONNX Runtime 1.30's expansion of the
    # CenterCropPad function fails on it (Max bound to int64 and int32), so the fixture uses int64.
    x = rng(43).integers(-100, 100, (5, 4, 3)).astype(np.int32)
    return one(18, "CenterCropPad", [("x", x), ("shape", np.array([2, 7], np.int64))], I32, {"axes": [2, 0]})


@case
def center_crop_pad_uint8_18():
    x = rng(44).integers(0, 255, (6, 7)).astype(np.uint8)
    return one(18, "CenterCropPad", [("x", x), ("shape", np.array([9, 2], np.int64))], TensorProto.UINT8)


# ---- GroupNormalization-18 (scale, bias per group) and -21 (per channel) ----

def groupnorm(opset, seed, xshape, groups, attrs=None, dtype=np.float32):
    r = rng(seed)
    x = (r.standard_normal(xshape) * 2 + 0.5).astype(dtype)
    c = xshape[1]
    per = groups if opset < 21 else c
    scale = (r.standard_normal(per) * 0.5 + 1).astype(dtype)
    bias = (r.standard_normal(per) * 0.5).astype(dtype)
    a = {"num_groups": groups}
    a.update(attrs or {})
    return one(opset, "GroupNormalization", [("x", x), ("scale", scale), ("bias", bias)], _NP_TO_ONNX[np.dtype(dtype).type], a)


@case
def group_normalization_18():
    return groupnorm(18, 50, (3, 4, 2, 2), 2)


@case
def group_normalization_epsilon_18():
    return groupnorm(18, 51, (2, 6, 3), 3, {"epsilon": 1e-2})


@case
def group_normalization_21():
    return groupnorm(21, 52, (3, 4, 2, 2), 2)


@case
def group_normalization_epsilon_21():
    return groupnorm(21, 53, (2, 6, 5), 3, {"epsilon": 1e-2})


@case
def group_normalization_instance_21():
    return groupnorm(21, 54, (2, 3, 4, 5), 3)


@case
def group_normalization_one_group_21():
    return groupnorm(21, 55, (2, 4, 3, 3), 1)


@case
def group_normalization_float64_stash11_21():
    return groupnorm(21, 56, (2, 4, 6), 2, {"stash_type": 11}, dtype=np.float64)


def write_case(out, name, spec):
    d = os.path.join(out, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(spec.model(name).SerializeToString())
    for i, (n, a) in enumerate(spec.inputs):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", default="", help="comma-separated case names (with or without %s)" % PREFIX)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    only = {n if n.startswith(PREFIX) else PREFIX + n for n in args.only.split(",") if n}
    names = [n for n, _ in CASES]
    if args.list:
        print("\n".join(names))
        return
    unknown = only - set(names)
    if unknown:
        sys.exit("unknown cases: " + ", ".join(sorted(unknown)))
    n = 0
    for name, build in CASES:
        if only and name not in only:
            continue
        write_case(args.out, name, build())
        n += 1
    print("%d cases written to %s" % (n, args.out))


if __name__ == "__main__":
    main()
