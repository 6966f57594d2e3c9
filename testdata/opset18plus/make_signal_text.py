#!/usr/bin/python3
"""Builds the signal_* and text_* fixtures of testdata/opset18plus/: small
graphs for the signal and text operators whose forms the ONNX 1.12 backend
suite lacks: DFT-20 (axis as an input), RegexFullMatch-20, StringConcat-20,
StringSplit-20, plus opset-17/9 forms the suite leaves out (DFT onesided
with dft_length, complex STFT, window output types, other MelWeightMatrix
parameters, a log-mel front end, TfIdfVectorizer over strings with weights).

Each case is a folder in the ONNX backend-test layout:
    <name>/model.onnx
    <name>/test_data_set_0/input_N.pb    (written here, named after the graph input)
    <name>/test_data_set_0/output_N.pb   (written by ./ort_reference.js: ONNX Runtime's outputs)

python3-onnx 1.12 knows none of the opset-20 operators, so nodes are written
by hand with onnx.helper and never passed to onnx.checker or shape
inference. The IR version is the one each opset was released with (9: 4,
17: 8, 20: 9). Inputs are seeded, so the folders are rebuilt byte for byte.

usage (Debian's python: python3-onnx 1.12 and numpy):
    /usr/bin/python3 make_signal_text.py [--out DIR] [--only NAME,...] [--list]
"""
import argparse
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
IR_VERSION = {9: 4, 17: 8, 20: 9}
CASES = []  # (name, builder)

F = TensorProto.FLOAT
D = TensorProto.DOUBLE
I32 = TensorProto.INT32
I64 = TensorProto.INT64
S = TensorProto.STRING
B = TensorProto.BOOL


def onnx_type(a):
    if a.dtype == object or a.dtype.kind == "U":
        return S
    return {np.float32: F, np.float64: D, np.int32: I32, np.int64: I64, np.bool_: B}[a.dtype.type]


def strings(shape, *values):
    return np.array(values, dtype=object).reshape(shape)


def case(fn):
    CASES.append((fn.__name__, fn))
    return fn


def rng(seed):
    return np.random.default_rng(seed)


class Spec:
    """A graph and its test inputs."""

    def __init__(self, opset, nodes, inputs, outputs, inits=(), doc=""):
        self.opset = opset
        self.nodes = nodes
        self.inputs = inputs    # list of (name, np.ndarray): graph inputs and their test values
        self.outputs = outputs  # list of (name, element type)
        self.inits = inits      # list of (name, np.ndarray): initializers
        self.doc = doc

    def model(self, name):
        g = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(n, onnx_type(a), list(a.shape)) for n, a in self.inputs],
            [helper.make_tensor_value_info(n, t, None) for n, t in self.outputs],
            [numpy_helper.from_array(a, n) for n, a in self.inits],
            doc_string=self.doc)
        m = helper.make_model(g, producer_name="onyx-make_signal_text",
                              opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = IR_VERSION[self.opset]
        return m


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


# ---- DFT-20: the axis is an optional input (default -2) ----

@case
def signal_dft_default_axis_20():
    x = rng(1).standard_normal((2, 3, 6, 1))
    return Spec(20, [node("DFT", ["x"], ["y"])], [("x", x)], [("y", D)],
                doc="real float64 input, no axis input: the last signal axis (-2), length 6 (not a power of two)")


@case
def signal_dft_axis_input_20():
    x = rng(2).standard_normal((2, 8, 3, 2)).astype(np.float32)
    return Spec(20, [node("DFT", ["x", "", "axis"], ["y"])], [("x", x), ("axis", np.array(1, np.int64))], [("y", F)],
                doc="complex input, axis 1 given as a graph input")


@case
def signal_dft_negative_axis_initializer_20():
    x = rng(3).standard_normal((3, 5, 4, 2)).astype(np.float32)
    return Spec(20, [node("DFT", ["x", "", "axis"], ["y"])], [("x", x)], [("y", F)],
                inits=[("axis", np.array(-4, np.int64))], doc="complex input, axis -4 (= 0) as an initializer")


@case
def signal_dft_onesided_dft_length_20():
    x = rng(4).standard_normal((2, 10, 1))
    return Spec(20, [node("DFT", ["x", "n", "axis"], ["y"], onesided=1)],
                [("x", x), ("n", np.array(16, np.int64)), ("axis", np.array(1, np.int64))], [("y", D)],
                doc="real float64 input zero-padded from 10 to dft_length 16, onesided: 9 bins")


@case
def signal_dft_inverse_truncate_20():
    x = rng(5).standard_normal((1, 12, 2)).astype(np.float32)
    return Spec(20, [node("DFT", ["x", "n"], ["y"], inverse=1)],
                [("x", x), ("n", np.array(7, np.int32))], [("y", F)],
                doc="inverse of the first 7 of 12 complex samples (int32 dft_length)")


@case
def signal_dft_float64_20():
    x = rng(6).standard_normal((4, 9, 1))
    return Spec(20, [node("DFT", ["x", "", "axis"], ["y"])], [("x", x), ("axis", np.array(-2, np.int64))], [("y", D)],
                doc="float64 real input, length 9")


@case
def signal_dft_onesided_dft_length_17():
    x = rng(7).standard_normal((3, 20, 2, 1))
    return Spec(17, [node("DFT", ["x", "n"], ["y"], axis=1, onesided=1)],
                [("x", x), ("n", np.array(15, np.int64))], [("y", D)],
                doc="DFT-17: float64, axis attribute 1, truncated to 15, onesided: 8 bins")


# ---- STFT, windows, MelWeightMatrix (opset 17) ----

@case
def signal_stft_complex_twosided_17():
    x = rng(8).standard_normal((2, 40, 2)).astype(np.float32)
    return Spec(17, [node("STFT", ["x", "step", "", "len"], ["y"], onesided=0)],
                [("x", x), ("step", np.array(6, np.int64)), ("len", np.array(12, np.int64))], [("y", F)],
                doc="complex signal, rectangular frames of 12 every 6 samples, two-sided")


@case
def signal_stft_hann_window_17():
    x = rng(9).standard_normal((2, 100, 1))
    return Spec(17, [node("HannWindow", ["wlen"], ["w"], output_datatype=D),
                     node("STFT", ["x", "step", "w"], ["y"])],
                [("x", x)], [("y", D)],
                inits=[("wlen", np.array(20, np.int64)), ("step", np.array(10, np.int64))],
                doc="HannWindow(20) feeding STFT, float64: frames of 20 every 10 samples, onesided")


@case
def signal_windows_17():
    return Spec(17, [node("HannWindow", ["n"], ["hann"], output_datatype=D),
                     node("HammingWindow", ["n"], ["hamming"], periodic=0),
                     node("BlackmanWindow", ["n"], ["blackman"], periodic=0, output_datatype=D),
                     node("HannWindow", ["n"], ["hann_int"], output_datatype=I32)],
                [("n", np.array(11, np.int32))],
                [("hann", D), ("hamming", F), ("blackman", D), ("hann_int", I32)],
                doc="windows of 11: periodic Hann (double), symmetric Hamming, symmetric Blackman (double), "
                    "Hann as int32 (truncated)")


@case
def signal_melweightmatrix_17():
    return Spec(17, [node("MelWeightMatrix", ["bins", "dft", "rate", "lo", "hi"], ["y"], output_datatype=D)],
                [("bins", np.array(10, np.int64)), ("dft", np.array(256, np.int64)),
                 ("rate", np.array(16000, np.int64)), ("lo", np.array(60, np.float32)),
                 ("hi", np.array(7600, np.float32))],
                [("y", D)], doc="10 mel bins over [60, 7600] Hz of a 256-point spectrum at 16 kHz, as float64")


@case
def signal_logmel_17():
    """A speech front end: Hann-windowed STFT, power spectrum, mel filter bank, log."""
    sr, n = 16000, 800
    t = np.arange(n) / sr
    x = (0.6 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 2500 * t)
         + 0.05 * rng(10).standard_normal(n)).astype(np.float32).reshape(1, n, 1)
    x = np.concatenate([x, x[:, ::-1]], axis=0)
    return Spec(17, [
        node("HannWindow", ["wlen"], ["window"]),
        node("STFT", ["x", "step", "window"], ["spec"]),
        node("Mul", ["spec", "spec"], ["sq"]),
        node("ReduceSum", ["sq", "last"], ["power"], keepdims=0),
        node("MelWeightMatrix", ["bins", "wlen", "rate", "lo", "hi"], ["mel"]),
        node("MatMul", ["power", "mel"], ["melpower"]),
        node("Add", ["melpower", "eps"], ["shifted"]),
        node("Log", ["shifted"], ["y"]),
    ], [("x", x)], [("y", F)], inits=[
        ("wlen", np.array(128, np.int64)), ("step", np.array(64, np.int64)), ("last", np.array([-1], np.int64)),
        ("bins", np.array(24, np.int64)), ("rate", np.array(sr, np.int64)),
        ("lo", np.array(20, np.float32)), ("hi", np.array(7000, np.float32)), ("eps", np.array(1e-6, np.float32)),
    ], doc="log-mel spectrogram of two 800-sample signals: Hann(128), hop 64, 24 mel bins")


# ---- text: RegexFullMatch, StringConcat, StringSplit (opset 20), TfIdfVectorizer (opset 9) ----

@case
def text_regexfullmatch_20():
    x = strings((2, 3), "www.google.com", "www.facebook.com", "www.bbc.co.uk",
                "google.com", "www.google.com/path", "WWW.GOOGLE.COM")
    return Spec(20, [node("RegexFullMatch", ["x"], ["y"], pattern=r"www\.[\w.-]+\.\bcom\b")],
                [("x", x)], [("y", B)], doc="whole-string matches only (a prefix match is false)")


@case
def text_regexfullmatch_flags_20():
    x = strings((6,), "Hello", "HELLO world", "héllo", "abab", "aba", "")
    return Spec(20, [node("RegexFullMatch", ["x"], ["y"], pattern=r"(?i)h[eé]llo( world)?|(ab)*")],
                [("x", x)], [("y", B)], doc="case-insensitive flag, non-ASCII class member, alternation, empty match")


@case
def text_stringconcat_broadcast_20():
    a = strings((2, 1), "left-", "")
    b = strings((3,), "x", "yy", "é")
    return Spec(20, [node("StringConcat", ["a", "b"], ["y"])], [("a", a), ("b", b)], [("y", S)],
                doc="[2,1] with [3] broadcast to [2,3]")


@case
def text_stringconcat_scalar_20():
    a = strings((4,), "a", "bc", "", "déf")
    b = np.array("_suffix", dtype=object)
    return Spec(20, [node("StringConcat", ["a", "b"], ["y"])], [("a", a), ("b", b)], [("y", S)],
                doc="a scalar right operand")


@case
def text_stringsplit_delimiter_20():
    x = strings((2, 2), "a,b,c", "single", "", ",x,,y,")
    return Spec(20, [node("StringSplit", ["x"], ["substrings", "length"], delimiter=",")],
                [("x", x)], [("substrings", S), ("length", I64)],
                doc="comma delimiter: empty fields kept, an empty string has no substrings")


@case
def text_stringsplit_maxsplit_20():
    x = strings((3,), "1--2--3--4", "--lead", "none")
    return Spec(20, [node("StringSplit", ["x"], ["substrings", "length"], delimiter="--", maxsplit=2)],
                [("x", x)], [("substrings", S), ("length", I64)],
                doc="two-character delimiter, at most 2 splits")


@case
def text_stringsplit_whitespace_20():
    x = strings((4,), "  hello   world ", "one", "", "   ")
    return Spec(20, [node("StringSplit", ["x"], ["substrings", "length"])],
                [("x", x)], [("substrings", S), ("length", I64)],
                doc="no delimiter: runs of spaces split, leading and trailing spaces dropped")


@case
def text_stringsplit_whitespace_maxsplit_20():
    x = strings((2,), " a b  c  ", "x  y")
    return Spec(20, [node("StringSplit", ["x"], ["substrings", "length"], delimiter="", maxsplit=1)],
                [("x", x)], [("substrings", S), ("length", I64)],
                doc="empty delimiter (whitespace) with maxsplit 1: the rest is kept, trailing spaces trimmed")


def tfidf(mode, **extra):
    attrs = dict(mode=mode, min_gram_length=1, max_gram_length=2, max_skip_count=1,
                 ngram_counts=[0, 4],
                 ngram_indexes=[0, 1, 2, 3, 4, 5, 6],
                 pool_strings=["the", "cat", "sat", "mat", "the", "cat", "cat", "sat", "the", "mat"])
    attrs.update(extra)
    return node("TfIdfVectorizer", ["x"], ["y"], **attrs)


SENTENCES = strings((2, 8), "the", "cat", "sat", "on", "the", "mat", "the", "cat",
                    "a", "cat", "the", "dog", "sat", "the", "hat", "mat")


@case
def text_tfidfvectorizer_strings_tf_9():
    return Spec(9, [tfidf("TF")], [("x", SENTENCES)], [("y", F)],
                doc="string pool, uni- and bigrams, skip up to 1, batch of 2")


@case
def text_tfidfvectorizer_strings_tfidf_9():
    return Spec(9, [tfidf("TFIDF", weights=[0.5, 1.5, 2.0, 0.25, 3.0, 4.0, 5.0])], [("x", SENTENCES)], [("y", F)],
                doc="TFIDF: counts times weights")


@case
def text_tfidfvectorizer_strings_idf_permuted_9():
    return Spec(9, [tfidf("IDF", weights=[0.5, 1.5, 2.0, 0.25, 3.0, 4.0, 5.0], ngram_indexes=[6, 5, 4, 3, 2, 1, 0])],
                [("x", SENTENCES)], [("y", F)],
                doc="IDF with permuted ngram_indexes: which weight goes to which output coordinate")


@case
def text_tfidfvectorizer_int64_bigrams_9():
    x = np.array([[1, 2, 3, 1, 2, 9, 3, 1], [3, 1, 2, 2, 3, 3, 1, 0]], np.int64)
    return Spec(9, [node("TfIdfVectorizer", ["x"], ["y"], mode="TF", min_gram_length=2, max_gram_length=3,
                         max_skip_count=2, ngram_counts=[0, 0, 6], ngram_indexes=[0, 1, 2, 3, 4, 5],
                         pool_int64s=[1, 2, 2, 3, 3, 1, 1, 2, 3, 2, 3, 1, 1, 3, 2])],
                [("x", x)], [("y", F)], doc="int64 pool of bigrams and trigrams, skip up to 2, no unigrams")


def write(name, spec, out):
    d = os.path.join(out, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(spec.model(name).SerializeToString())
    for i, (n, a) in enumerate(spec.inputs):
        t = numpy_helper.from_array(a, n)
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(t.SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for name, _ in CASES:
            print(name)
        return
    only = set(filter(None, args.only.split(",")))
    unknown = only - {n for n, _ in CASES}
    if unknown:
        sys.exit(f"unknown cases: {sorted(unknown)}")
    for name, build in CASES:
        if only and name not in only:
            continue
        write(name, build(), args.out)
        print("wrote", name)


if __name__ == "__main__":
    main()
