"""LpNormalization (opset 13) and ImageDecoder (opset 20) fixtures: cases
misc_*. LpNormalization outputs come from ONNX Runtime (see README.md).
ONNX Runtime's CPU build has no ImageDecoder kernel, so this script writes
those outputs itself: the PNGs are lossless, so the decoded pixels are the
arrays encoded, channels reversed for BGR, and PIL's "L" conversion (which
the ONNX reference implementation uses) for Grayscale. Run with
/usr/bin/python3."""
import os
import struct
import zlib
import numpy as np
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def write(case, node, inputs, out_type, out_shape, opset):
    g = helper.make_graph([node], case,
                          [helper.make_tensor_value_info(n, dt, list(a.shape)) for n, dt, a in inputs],
                          [helper.make_tensor_value_info(node.output[0], out_type, out_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=9 if opset >= 19 else 8)
    d = os.path.join(HERE, case, "test_data_set_0")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(HERE, case, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    for i, (n, _, a) in enumerate(inputs):
        with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())


x = rng.standard_normal((2, 3, 4)).astype(np.float32)
x[1, :, 2] = 0  # a zero-norm slice
for p, axis in [(2, -1), (1, 1), (2, 0)]:
    write(f"misc_lpnormalization_p{p}_axis{axis}", helper.make_node("LpNormalization", ["x"], ["y"], p=p, axis=axis),
          [("x", TensorProto.FLOAT, x)], TensorProto.FLOAT, list(x.shape), 13)


def png(pixels, color_type):
    """Encodes an 8-bit PNG (color_type 0 gray, 2 RGB) with zlib only."""
    h, w = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
gray = rng.integers(0, 256, (4, 6), dtype=np.uint8)
for name, data, fmt in [("rgb_png_rgb", png(rgb, 2), "RGB"), ("rgb_png_bgr", png(rgb, 2), "BGR"),
                        ("rgb_png_grayscale", png(rgb, 2), "Grayscale"), ("gray_png_rgb", png(gray, 0), "RGB")]:
    stream = np.frombuffer(data, dtype=np.uint8)
    case = f"misc_imagedecoder_{name}_20"
    write(case, helper.make_node("ImageDecoder", ["s"], ["y"], pixel_format=fmt),
          [("s", TensorProto.UINT8, stream)], TensorProto.UINT8, None, 20)
    pixels = rgb if name.startswith("rgb") else np.repeat(gray[:, :, None], 3, axis=2)
    if fmt == "BGR":
        want = pixels[:, :, ::-1]
    elif fmt == "Grayscale":
        p32 = pixels.astype(np.uint32)
        want = ((p32[:, :, 0] * 19595 + p32[:, :, 1] * 38470 + p32[:, :, 2] * 7471 + 0x8000) >> 16).astype(np.uint8)[:, :, None]
    else:
        want = pixels
    with open(os.path.join(HERE, case, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(want), "y").SerializeToString())
