#!/usr/bin/python3
"""Train the small MNIST CNN shipped in models/mnist-cnn and export it to ONNX.

Usage (from the repository root):

    /usr/bin/python3 models/mnist-cnn/train.py [MNIST_DIR]

MNIST_DIR holds the four original IDX .gz files (train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).
Default: ../../../shared/data/mnist relative to this script.

Writes, next to this script:
    model.onnx                          opset 13, input "input" [N,1,28,28] float32
                                        (pixels/255), output "probs" [N,10] (softmax)
    digit7.png digit2.png digit1.png digit0.png
                                        test images 0..3 as 28x28 8-bit grayscale PNGs
    test_data_set_0/input_0.pb          TensorProto "input", test images 0..3, [4,1,28,28]
    test_data_set_0/output_0.pb         TensorProto "probs", the torch outputs for them [4,10]

Python/torch are only used to make this fixture; the Go runtime does not need them.
"""

import argparse
import gzip
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234
EPOCHS = 2
BATCH = 64
LR = 1e-3


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x00000803:
        rows, cols = struct.unpack(">II", data[8:16])
        arr = np.frombuffer(data, dtype=np.uint8, offset=16)
        return arr.reshape(count, rows, cols)
    if magic == 0x00000801:
        return np.frombuffer(data, dtype=np.uint8, offset=8).reshape(count)
    raise ValueError("%s: bad IDX magic 0x%08x" % (path, magic))


def load_mnist(d):
    def p(name):
        return os.path.join(d, name)

    xtr = read_idx(p("train-images-idx3-ubyte.gz"))
    ytr = read_idx(p("train-labels-idx1-ubyte.gz"))
    xte = read_idx(p("t10k-images-idx3-ubyte.gz"))
    yte = read_idx(p("t10k-labels-idx1-ubyte.gz"))
    assert xtr.shape == (60000, 28, 28) and ytr.shape == (60000,)
    assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
    return xtr, ytr, xte, yte


def to_input(x_uint8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1] (pixels/255)."""
    return (x_uint8.astype(np.float32) / np.float32(255.0))[:, None, :, :]


class MnistCNN(nn.Module):
    """Keras-example style CNN: Conv32-Pool-Conv64-Pool-Flatten-Dense64-Dense10."""

    def __init__(self, softmax=False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3),   # 28 -> 26
            nn.ReLU(),
            nn.MaxPool2d(2),       # 26 -> 13
            nn.Conv2d(32, 64, 3),  # 13 -> 11
            nn.ReLU(),
            nn.MaxPool2d(2),       # 11 -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),          # 64*5*5 = 1600
            nn.Linear(64 * 5 * 5, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
        self.softmax = softmax
        # Keras defaults: glorot_uniform kernels, zero biases.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        y = self.classifier(self.features(x))
        if self.softmax:
            y = torch.softmax(y, dim=1)
        return y


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(to_input(x[i:i + batch]))
            pred = model(xb).argmax(dim=1).numpy()
            correct += int((pred == y[i:i + batch]).sum())
    return correct / len(x)


def write_png_gray(path, img):
    """Write a uint8 [H,W] array as an 8-bit grayscale PNG (no filtering)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mnist_dir", nargs="?",
                    default=os.path.join(HERE, "..", "..", "..", "shared", "data", "mnist"))
    ap.add_argument("--out", default=HERE, help="output directory (default: this script's)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)

    xtr, ytr, xte, yte = load_mnist(os.path.normpath(args.mnist_dir))
    print("MNIST: train %s, test %s" % (xtr.shape, xte.shape))

    model = MnistCNN()
    nparams = sum(p.numel() for p in model.parameters())
    print("parameters: %d" % nparams)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    xtr_t = torch.from_numpy(to_input(xtr))
    ytr_t = torch.from_numpy(ytr.astype(np.int64))
    gen = torch.Generator().manual_seed(SEED)

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr_t), generator=gen)
        total, n = 0.0, 0
        for i in range(0, len(perm), BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = xtr_t[idx], ytr_t[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            n += len(idx)
        acc = evaluate(model, xte, yte)
        print("epoch %d: train loss %.4f, test accuracy %.4f (%.1f s elapsed)"
              % (epoch + 1, total / n, acc, time.time() - t0))
    train_secs = time.time() - t0
    acc = evaluate(model, xte, yte)
    print("training time: %.1f s" % train_secs)
    print("test accuracy: %.4f (%d/10000)" % (acc, round(acc * 10000)))

    # Export with a final Softmax so the outputs are probabilities.
    model.softmax = True
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    dummy = torch.from_numpy(to_input(xte[:1]))
    torch.onnx.export(
        model, dummy, onnx_path,
        export_params=True,
        opset_version=13,
        do_constant_folding=True,
        input_names=["input"],
        output_names=["probs"],
        dynamic_axes={"input": {0: "N"}, "probs": {0: "N"}},
    )

    import onnx
    from onnx import numpy_helper

    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    print("exported %s (%d bytes), ops: %s" % (
        onnx_path, os.path.getsize(onnx_path), [n.op_type for n in m.graph.node]))

    # Sample digits: the first four test images (labels 7, 2, 1, 0).
    for i in range(4):
        name = os.path.join(args.out, "digit%d.png" % yte[i])
        write_png_gray(name, xte[i])
        print("wrote %s (test index %d, label %d)" % (name, i, yte[i]))

    # Backend-style test case: first four test images and the torch outputs.
    tdir = os.path.join(args.out, "test_data_set_0")
    os.makedirs(tdir, exist_ok=True)
    x4 = to_input(xte[:4])
    with torch.no_grad():
        y4 = model(torch.from_numpy(x4)).numpy().astype(np.float32)
    in_name = m.graph.input[0].name
    out_name = m.graph.output[0].name
    for fname, arr, tname in (("input_0.pb", x4, in_name), ("output_0.pb", y4, out_name)):
        t = numpy_helper.from_array(arr, name=tname)
        with open(os.path.join(tdir, fname), "wb") as f:
            f.write(t.SerializeToString())
    np.set_printoptions(precision=6, suppress=False, linewidth=120)
    print("labels  :", yte[:4].tolist())
    print("argmax  :", y4.argmax(axis=1).tolist())
    print("probs[0] (digit7.png):", y4[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
