#!/usr/bin/python3
"""Builds the common_* fixtures of testdata/opset18plus/: small one-node (or
few-node) graphs at opsets 18 to 21 for the common operators whose signature
or types changed after opset 17 (the last opset of the ONNX 1.12 backend
suite).

Each case is a folder in the ONNX backend-test layout:
    common_<name>/model.onnx
    common_<name>/test_data_set_0/input_N.pb    (written here, named after the graph input)
    common_<name>/test_data_set_0/output_N.pb   (written by ort_reference.js: ONNX Runtime's outputs)

python3-onnx 1.12 knows opsets up to 17 only, so the nodes are written by
hand with onnx.helper and never passed to onnx.checker or shape inference.
The IR version is the one each opset was released with (18: 8, 19 and 20: 9,
21: 10). Inputs are seeded, so the folders are rebuilt byte for byte.

usage (Debian's python: python3-onnx 1.12 and numpy):
    /usr/bin/python3 make_common.py [--out DIR] [--only NAME,...] [--list]
"""
import argparse
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
IR_VERSION = {18: 8, 19: 9, 20: 9, 21: 10}
CASES = []  # (name, builder)


def case(fn):
    CASES.append(("common_" + fn.__name__, fn))
    return fn


def rng(seed):
    return np.random.default_rng(seed)


def tensor_type(a):
    return _NP_TO_ONNX[a.dtype.type]


_NP_TO_ONNX = {
    np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16,
    np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8, np.int16: TensorProto.INT16,
    np.uint16: TensorProto.UINT16, np.int32: TensorProto.INT32, np.int64: TensorProto.INT64,
    np.uint32: TensorProto.UINT32, np.uint64: TensorProto.UINT64, np.bool_: TensorProto.BOOL,
}


class Spec:
    """A model (one graph) and its test inputs."""

    def __init__(self, opset, nodes, inputs, outputs, inits=(), doc=""):
        self.opset = opset
        self.nodes = nodes
        self.inputs = inputs    # list of (name, np.ndarray): graph inputs and their test values
        self.outputs = outputs  # list of (name, TensorProto type)
        self.inits = inits      # list of (name, np.ndarray): initializers
        self.doc = doc

    def model(self, name):
        g = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(n, tensor_type(a), list(a.shape)) for n, a in self.inputs],
            [helper.make_tensor_value_info(n, t, None) for n, t in self.outputs],
            [numpy_helper.from_array(a, n) for n, a in self.inits],
            doc_string=self.doc)
        m = helper.make_model(g, producer_name="onyx make_common.py",
                              opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = IR_VERSION[self.opset]
        return m


def one(opset, op, inputs, out_type, attrs=None, inits=(), n_out=1, node_inputs=None, doc=""):
    """A single-node graph: node inputs are the graph inputs then the initializers (or node_inputs)."""
    names = node_inputs if node_inputs is not None else [n for n, _ in inputs] + [n for n, _ in inits]
    outs = ["y"] if n_out == 1 else ["y%d" % i for i in range(n_out)]
    types = out_type if isinstance(out_type, list) else [out_type] * n_out
    node = helper.make_node(op, names, outs, **(attrs or {}))
    return Spec(opset, [node], inputs, list(zip(outs, types)), inits, doc)


F = TensorProto.FLOAT
I64 = np.int64


def f32(r, *shape):
    return r.standard_normal(shape).astype(np.float32)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


# ---- Reduce*: axes as an input (18), bool ReduceMax/ReduceMin (20) ----

@case
def reduce_axes_input_18():
    r = rng(1)
    x = f32(r, 2, 3, 4)
    p = np.abs(f32(r, 3, 4)) + 0.1
    n = r.integers(-3, 4, size=(2, 3, 2)).astype(np.int32)
    nodes = [node("ReduceMean", ["x", "a1"], ["y0"]),
             node("ReduceMax", ["x", "a2"], ["y1"], keepdims=0),
             node("ReduceL1", ["x", "a3"], ["y2"]),
             node("ReduceLogSum", ["p", "a1"], ["y3"]),
             node("ReduceProd", ["n", "a1"], ["y4"])]
    return Spec(18, nodes, [("x", x), ("p", p), ("n", n), ("a1", np.array([1], I64)),
                            ("a2", np.array([-1, 0], I64))],
                [("y0", F), ("y1", F), ("y2", F), ("y3", F), ("y4", TensorProto.INT32)],
                inits=[("a3", np.array([0, 2], I64))],
                doc="axes as a graph input, and as an initializer (ReduceL1)")


@case
def reduce_empty_axes_18():
    r = rng(2)
    nodes = [node("ReduceLogSumExp", ["x"], ["y0"]),
             node("ReduceSumSquare", ["x", "e"], ["y1"], keepdims=0),
             node("ReduceMin", ["x", ""], ["y2"])]
    return Spec(18, nodes, [("x", f32(r, 3, 4)), ("e", np.zeros([0], I64))], [("y0", F), ("y1", F), ("y2", F)],
                doc="no axes or empty axes without noop_with_empty_axes: reduce every axis")


@case
def reduce_noop_empty_axes_18():
    r = rng(3)
    x = f32(r, 2, 3)
    p = np.abs(f32(r, 2, 3)) + 0.1
    ops = ["ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceMean", "ReduceProd", "ReduceMax"]
    nodes = [node(op, ["x", "e"], ["y%d" % i], noop_with_empty_axes=1) for i, op in enumerate(ops)]
    nodes.append(node("ReduceLogSum", ["p", "e"], ["y%d" % len(ops)], noop_with_empty_axes=1))
    return Spec(18, nodes, [("x", x), ("p", p), ("e", np.zeros([0], I64))],
                [("y%d" % i, F) for i in range(len(ops) + 1)],
                doc="empty axes with noop_with_empty_axes=1 reduce over no axis: the elementwise part still applies")


@case
def reduce_bool_20():
    x = np.array([[True, False, False], [False, False, False]])
    z = np.array([[True, False, True], [True, True, True]])
    nodes = [node("ReduceMax", ["x", "a1"], ["y0"]),
             node("ReduceMin", ["z", "a0"], ["y1"], keepdims=0),
             node("ReduceMax", ["z"], ["y2"], keepdims=0)]
    return Spec(20, nodes, [("x", x), ("z", z), ("a1", np.array([1], I64)), ("a0", np.array([0], I64))],
                [("y0", TensorProto.BOOL), ("y1", TensorProto.BOOL), ("y2", TensorProto.BOOL)])


# ---- Split: num_outputs (18) ----

@case
def split_num_outputs_uneven_18():
    return one(18, "Split", [("x", f32(rng(10), 7, 2))], F, {"axis": 0, "num_outputs": 3}, n_out=3)


@case
def split_num_outputs_even_and_input_18():
    nodes = [node("Split", ["x"], ["y0", "y1", "y2"], axis=-1, num_outputs=3),
             node("Split", ["x", "split"], ["y3", "y4"], axis=1)]
    return Spec(18, nodes, [("x", f32(rng(11), 2, 6)), ("split", np.array([1, 5], I64))],
                [("y%d" % i, F) for i in range(5)])


# ---- Pad: axes input (18), wrap mode (19) ----

@case
def pad_axes_18():
    r = rng(20)
    nodes = [node("Pad", ["x", "p0", "value", "a0"], ["y0"]),
             node("Pad", ["x", "p1", "", "a1"], ["y1"], mode="reflect")]
    return Spec(18, nodes, [("x", f32(r, 2, 3, 4)), ("p0", np.array([1, 0, 2, 1], I64)),
                            ("value", np.array(1.5, np.float32)), ("a0", np.array([1, -1], I64)),
                            ("p1", np.array([2, 1, 1, 2], I64))],
                [("y0", F), ("y1", F)], inits=[("a1", np.array([2, 1], I64))])


@case
def pad_wrap_19():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    return one(19, "Pad", [("x", x), ("pads", np.array([1, 2, 2, 3], I64))], F, {"mode": "wrap"})


@case
def pad_wrap_edge_21():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    nodes = [node("Pad", ["x", "p0", "", "a0"], ["y0"], mode="wrap"),
             node("Pad", ["f", "p1"], ["y1"], mode="edge")]
    return Spec(21, nodes, [("x", x), ("p0", np.array([3, 5], I64)), ("f", f32(rng(22), 2, 3)),
                            ("p1", np.array([0, 2, 1, 1], I64))],
                [("y0", TensorProto.INT32), ("y1", F)], inits=[("a0", np.array([2], I64))])


# ---- Resize: antialias, axes, keep_aspect_ratio_policy (18), half_pixel_symmetric (19) ----

def resize(x, scales=None, sizes=None, out="y", **attrs):
    """A Resize node reading input x and the named scales or sizes input."""
    names = [x, "", scales or ""]
    if sizes:
        names.append(sizes)
    return node("Resize", names, [out], **attrs)


@case
def resize_antialias_18():
    r = rng(30)
    nodes = [resize("x", scales="s", out="y0", mode="linear", antialias=1),
             resize("z", sizes="n", out="y1", mode="cubic", antialias=1)]
    return Spec(18, nodes, [("x", f32(r, 1, 1, 8, 8)), ("s", np.array([1, 1, 0.5, 0.375], np.float32)),
                            ("z", f32(r, 1, 2, 6, 7)), ("n", np.array([1, 2, 4, 3], I64))],
                [("y0", F), ("y1", F)])


@case
def resize_axes_sizes_18():
    return Spec(18, [resize("x", sizes="n", mode="linear", axes=[3, 2])],
                [("x", f32(rng(32), 1, 2, 3, 4)), ("n", np.array([6, 5], I64))], [("y", F)])


@case
def resize_axes_scales_nearest_18():
    return Spec(18, [resize("x", scales="s", mode="nearest", axes=[1])],
                [("x", f32(rng(33), 2, 3, 4)), ("s", np.array([2.0], np.float32))], [("y", F)])


@case
def resize_keep_aspect_ratio_18():
    r = rng(34)
    nodes = [resize("x", sizes="n0", out="y0", mode="linear", keep_aspect_ratio_policy="not_larger", axes=[2, 3]),
             resize("x", sizes="n1", out="y1", mode="nearest", keep_aspect_ratio_policy="not_smaller")]
    return Spec(18, nodes, [("x", f32(r, 1, 1, 4, 6)), ("n0", np.array([3, 3], I64)),
                            ("n1", np.array([1, 1, 3, 3], I64))], [("y0", F), ("y1", F)])


@case
def resize_half_pixel_symmetric_19():
    return Spec(19, [resize("x", scales="s", mode="linear", coordinate_transformation_mode="half_pixel_symmetric")],
                [("x", f32(rng(36), 1, 1, 3, 4)), ("s", np.array([1, 1, 2.0, 1.5], np.float32))], [("y", F)])


# ---- ScatterND / ScatterElements: reduction max and min (18) ----

@case
def scatternd_max_min_18():
    r = rng(40)
    nodes = [node("ScatterND", ["x", "i0", "u0"], ["y0"], reduction="max"),
             node("ScatterND", ["z", "i1", "u1"], ["y1"], reduction="min")]
    return Spec(18, nodes, [("x", f32(r, 4, 3)), ("i0", np.array([[1], [3], [1]], I64)), ("u0", f32(r, 3, 3)),
                            ("z", f32(r, 2, 3)), ("i1", np.array([[0, 1], [1, 2], [0, 1]], I64)), ("u1", f32(r, 3))],
                [("y0", F), ("y1", F)], doc="repeated indices combine with max / min")


@case
def scatterelements_max_min_18():
    r = rng(44)
    nodes = [node("ScatterElements", ["x", "i0", "u0"], ["y0"], axis=0, reduction="max"),
             node("ScatterElements", ["n", "i1", "u1"], ["y1"], axis=1, reduction="min")]
    return Spec(18, nodes, [("x", f32(r, 3, 3)), ("i0", np.array([[1, 0, 2], [1, 1, 0]], I64)),
                            ("u0", f32(r, 2, 3)),
                            ("n", r.integers(-5, 5, size=(2, 4)).astype(np.int32)),
                            ("i1", np.array([[3, 3], [0, -1]], I64)),
                            ("u1", r.integers(-5, 5, size=(2, 2)).astype(np.int32))],
                [("y0", F), ("y1", TensorProto.INT32)])


# ---- Cast / CastLike (19: saturate, 21) ----

@case
def cast_19():
    # saturate only applies to float8 targets; ONNX Runtime rejects saturate=0 for other targets.
    nodes = [node("Cast", ["x"], ["y0"], to=TensorProto.INT8, saturate=1),
             node("Cast", ["x"], ["y1"], to=TensorProto.FLOAT16),
             node("CastLike", ["x", "like"], ["y2"], saturate=1)]
    x = np.array([-128.7, -3.5, 0.2, 7.9, 126.9, 1e-5], np.float32)
    return Spec(19, nodes, [("x", x), ("like", np.zeros([1], np.int32))],
                [("y0", TensorProto.INT8), ("y1", TensorProto.FLOAT16), ("y2", TensorProto.INT32)])


@case
def cast_castlike_21():
    nodes = [node("Cast", ["n"], ["y0"], to=TensorProto.DOUBLE),
             node("CastLike", ["x", "like"], ["y1"])]
    return Spec(21, nodes, [("n", np.array([[-7, 0, 2147483647]], np.int32)), ("x", f32(rng(50), 2, 3)),
                            ("like", np.zeros([1], np.float16))], [("y0", TensorProto.DOUBLE), ("y1", TensorProto.FLOAT16)])


# ---- QuantizeLinear / DequantizeLinear (19: float16 scale, 21: blocked, output_dtype, 16-bit) ----

@case
def quantizelinear_blocked_21():
    r = rng(60)
    nodes = [node("QuantizeLinear", ["x", "s0", "z0"], ["y0"], axis=1, block_size=3),
             node("QuantizeLinear", ["w", "s1", "z1"], ["y1"], axis=0, block_size=2)]
    return Spec(21, nodes, [("x", f32(r, 2, 6) * 4), ("s0", np.array([[0.05, 0.1], [0.02, 0.04]], np.float32)),
                            ("z0", np.array([[128, 100], [10, 250]], np.uint8)),
                            ("w", f32(r, 5, 2) * 3),
                            ("s1", np.array([[0.05, 0.1], [0.02, 0.04], [0.5, 0.25]], np.float32)),
                            ("z1", np.array([[0, -10], [5, 1], [-100, 0]], np.int8))],
                [("y0", TensorProto.UINT8), ("y1", TensorProto.INT8)],
                doc="y1: axis 0 of size 5 in blocks of 2, the last block partial")


@case
def dequantizelinear_blocked_21():
    x = rng(62).integers(-128, 128, size=(4, 3)).astype(np.int8)
    scale = np.array([[0.5, 0.25, 2.0], [0.125, 1.0, 3.0]], np.float32)
    zp = np.array([[0, -3, 7], [1, 2, -100]], np.int8)
    return one(21, "DequantizeLinear", [("x", x), ("scale", scale), ("zp", zp)], F, {"axis": 0, "block_size": 2})


@case
def quantize_float16_19():
    r = rng(63)
    nodes = [node("QuantizeLinear", ["x", "s0", "z0"], ["y0"]),
             node("DequantizeLinear", ["q", "s1", "z1"], ["y1"])]
    return Spec(19, nodes, [("x", (f32(r, 2, 3) * 10).astype(np.float16)), ("s0", np.array(0.25, np.float16)),
                            ("z0", np.array(-3, np.int8)),
                            ("q", r.integers(0, 256, size=(2, 3)).astype(np.uint8)),
                            ("s1", np.array([0.5, 0.125, 0.01], np.float16)), ("z1", np.array([128, 0, 3], np.uint8))],
                [("y0", TensorProto.INT8), ("y1", TensorProto.FLOAT16)],
                doc="float16 scales; DequantizeLinear's output takes the scale's type")


@case
def quantizelinear_output_dtype_int16_21():
    x = f32(rng(65), 2, 4) * 1000
    return one(21, "QuantizeLinear", [("x", x), ("scale", np.array(0.05, np.float32))], TensorProto.INT16,
               {"output_dtype": TensorProto.INT16})


@case
def dequantizelinear_uint16_21():
    x = rng(66).integers(0, 65536, size=(2, 3)).astype(np.uint16)
    return one(21, "DequantizeLinear", [("x", x), ("scale", np.array([0.5, 0.001], np.float32)),
                                        ("zp", np.array([32768, 100], np.uint16))], F, {"axis": 0})


@case
def qlinearmatmul_21():
    r = rng(67)
    a = r.integers(0, 256, size=(2, 3)).astype(np.uint8)
    b = r.integers(0, 256, size=(3, 4)).astype(np.uint8)
    inputs = [("a", a), ("a_scale", np.array(0.02, np.float32)), ("a_zp", np.array(120, np.uint8)),
              ("b", b), ("b_scale", np.array(0.01, np.float32)), ("b_zp", np.array(130, np.uint8)),
              ("y_scale", np.array(0.05, np.float32)), ("y_zp", np.array(128, np.uint8))]
    return one(21, "QLinearMatMul", inputs, TensorProto.UINT8)


# ---- Pooling: AveragePool dilations (19), LpPool ceil_mode (18) ----

@case
def averagepool_dilations_19():
    r = rng(70)
    nodes = [node("AveragePool", ["x"], ["y0"], kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 1]),
             node("AveragePool", ["z"], ["y1"], kernel_shape=[3, 3], dilations=[2, 1], strides=[2, 2],
                  pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0)]
    return Spec(19, nodes, [("x", f32(r, 1, 2, 6, 6)), ("z", f32(r, 1, 1, 7, 7))], [("y0", F), ("y1", F)])


@case
def lppool_ceil_mode_18():
    return one(18, "LpPool", [("x", f32(rng(72), 1, 2, 5, 5))], F,
               {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1, "p": 2})


# ---- Layout ops re-versioned at 19 and 21 ----

@case
def shape_reshape_identity_19():
    nodes = [node("Shape", ["x"], ["y0"], start=1, end=-1),
             node("Reshape", ["x", "s"], ["y1"]),
             node("Identity", ["n"], ["y2"]),
             node("Size", ["x"], ["y3"])]
    return Spec(19, nodes, [("x", f32(rng(80), 2, 3, 4)), ("s", np.array([0, -1, 2], I64)),
                            ("n", np.array([[3, 1], [4, 1]], I64))],
                [("y0", TensorProto.INT64), ("y1", F), ("y2", TensorProto.INT64), ("y3", TensorProto.INT64)])


@case
def layout_21():
    nodes = [node("Identity", ["x"], ["i"]),
             node("Transpose", ["i"], ["t"], perm=[2, 0, 1]),
             node("Flatten", ["t"], ["y0"], axis=2),
             node("Reshape", ["x", "s"], ["y1"]),
             node("Shape", ["x"], ["y2"], start=-2),
             node("Size", ["x"], ["y3"])]
    return Spec(21, nodes, [("x", f32(rng(84), 2, 3, 4))],
                [("y0", F), ("y1", F), ("y2", TensorProto.INT64), ("y3", TensorProto.INT64)],
                inits=[("s", np.array([4, 3, 2], I64))])


@case
def squeeze_unsqueeze_21():
    nodes = [node("Unsqueeze", ["x", "ax"], ["u"]),
             node("Squeeze", ["u", "sq"], ["y"])]
    return Spec(21, nodes, [("x", f32(rng(85), 3, 1, 2))], [("y", F)],
                inits=[("ax", np.array([0, -1], I64)), ("sq", np.array([0, 2], I64))])


@case
def constant_19_constantofshape_20():
    nodes = [node("Constant", [], ["c"], value=numpy_helper.from_array(np.array([2, 3], I64))),
             node("ConstantOfShape", ["c"], ["k"], value=numpy_helper.from_array(np.array([7], np.int32))),
             node("Add", ["k", "x"], ["y"])]
    return Spec(20, nodes, [("x", np.arange(6, dtype=np.int32).reshape(2, 3))], [("y", TensorProto.INT32)],
                doc="Constant-19 and ConstantOfShape-20 in an opset-20 model")


@case
def constantofshape_21():
    return one(21, "ConstantOfShape", [("shape", np.array([2, 1, 3], I64))], TensorProto.FLOAT16,
               {"value": numpy_helper.from_array(np.array([1.25], np.float16))})


# ---- Elementwise: Equal on strings (19), IsInf/IsNaN (20), Gelu (20), Mish (18), Bitwise (18) ----

@case
def equal_string_19():
    nodes = [node("Cast", ["x"], ["s"], to=TensorProto.STRING),
             node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.STRING, [3], [b"1", b"20", b"x"])),
             node("Equal", ["s", "c"], ["y"])]
    return Spec(19, nodes, [("x", np.array([[1, 2, 3], [4, 20, 6]], np.int32))], [("y", TensorProto.BOOL)],
                doc="the test inputs are numeric: the strings come from a Cast inside the model")


@case
def isinf_isnan_20():
    x = np.array([1.0, np.inf, -np.inf, np.nan, -2.0, 0.0], np.float32)
    h = np.array([1.0, np.inf, -np.inf, np.nan, 65504.0], np.float16)
    nodes = [node("IsInf", ["x"], ["y0"], detect_positive=0),
             node("IsNaN", ["x"], ["y1"]),
             node("IsInf", ["h"], ["y2"]),
             node("IsNaN", ["h"], ["y3"])]
    return Spec(20, nodes, [("x", x), ("h", h)], [("y%d" % i, TensorProto.BOOL) for i in range(4)])


@case
def gelu_20():
    r = rng(90)
    nodes = [node("Gelu", ["x"], ["y0"]), node("Gelu", ["x"], ["y1"], approximate="tanh")]
    return Spec(20, nodes, [("x", f32(r, 3, 4) * 3)], [("y0", F), ("y1", F)])


@case
def mish_18():
    return one(18, "Mish", [("x", f32(rng(92), 2, 5) * 4)], F)


@case
def bitwise_18():
    r = rng(93)
    a = r.integers(-100, 100, size=(2, 3)).astype(np.int32)
    b = r.integers(-100, 100, size=(3,)).astype(np.int32)
    u = r.integers(0, 256, size=(4,)).astype(np.uint8)
    nodes = [node("BitwiseAnd", ["a", "b"], ["y0"]),
             node("BitwiseOr", ["a", "b"], ["y1"]),
             node("BitwiseXor", ["a", "b"], ["y2"]),
             node("BitwiseNot", ["u"], ["y3"])]
    return Spec(18, nodes, [("a", a), ("b", b), ("u", u)],
                [("y0", TensorProto.INT32), ("y1", TensorProto.INT32), ("y2", TensorProto.INT32),
                 ("y3", TensorProto.UINT8)])


# ---- Optional on plain tensors (18), control flow (19, 21) ----

@case
def optional_tensor_18():
    nodes = [node("OptionalHasElement", ["x"], ["y0"]),
             node("OptionalGetElement", ["x"], ["y1"])]
    return Spec(18, nodes, [("x", f32(rng(95), 2, 2))], [("y0", TensorProto.BOOL), ("y1", F)])


@case
def if_21():
    then_g = helper.make_graph([node("Neg", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, None)])
    else_g = helper.make_graph([node("Abs", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, None)])
    nodes = [node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    return Spec(21, nodes, [("c", np.array(True)), ("x", f32(rng(96), 3))], [("y", F)])


@case
def loop_19():
    body = helper.make_graph(
        [node("Identity", ["cond_in"], ["cond_out"]),
         node("Mul", ["acc_in", "x"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, None)])
    nodes = [node("Loop", ["n", "", "a"], ["y"], body=body)]
    return Spec(19, nodes, [("n", np.array(3, I64)), ("a", np.ones([2], np.float32)),
                            ("x", np.array([2.0, -0.5], np.float32))], [("y", F)])


@case
def scan_21():
    body = helper.make_graph(
        [node("Add", ["s_in", "e"], ["s_out"]),
         node("Identity", ["s_out"], ["o"])],
        "body",
        [helper.make_tensor_value_info("s_in", F, [2]), helper.make_tensor_value_info("e", F, [2])],
        [helper.make_tensor_value_info("s_out", F, [2]), helper.make_tensor_value_info("o", F, [2])])
    nodes = [node("Scan", ["s0", "xs"], ["y0", "y1"], body=body, num_scan_inputs=1)]
    return Spec(21, nodes, [("s0", np.zeros([2], np.float32)), ("xs", f32(rng(97), 4, 2))], [("y0", F), ("y1", F)])


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
    ap.add_argument("--only", default="", help="comma-separated case names (with or without common_)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    only = {n if n.startswith("common_") else "common_" + n for n in args.only.split(",") if n}
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
