#!/usr/bin/python3
"""Writes the synthetic benchmark models and their inputs (random weights, opset 13).

Run from anywhere with Debian's /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12,
python3-torchvision for MobileNetV2 and ResNet-50):

    /usr/bin/python3 benchmarks/models/make_models.py [--force] [--only NAME,...]

Each case is a folder benchmarks/models/NAME/ with model.onnx (absent when the case reuses a
model kept elsewhere, such as the seed's MNIST CNN) and input_0.pb, input_1.pb, ...: ONNX
TensorProtos named after the graph inputs, the feeds every runtime gets. Everything is seeded,
so two runs with the same torch write the same bytes. Existing files are kept unless --force
is given, so the small committed files never change under `make bench`; the large ones (listed
in .gitignore) are made on first use.
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13


def out_dir(name):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    return d


def write_inputs(name, arrays):
    """arrays: list of (graph input name, numpy array)."""
    d = out_dir(name)
    for i, (iname, arr) in enumerate(arrays):
        t = numpy_helper.from_array(arr, iname)
        with open(os.path.join(d, "input_%d.pb" % i), "wb") as f:
            f.write(t.SerializeToString())


def have(name, with_model=True):
    d = os.path.join(HERE, name)
    if with_model and not os.path.exists(os.path.join(d, "model.onnx")):
        return False
    return os.path.exists(os.path.join(d, "input_0.pb"))


def export_torch(name, module, args, input_names, output_names):
    import torch

    module.eval()
    path = os.path.join(out_dir(name), "model.onnx")
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            path,
            opset_version=OPSET,
            input_names=input_names,
            output_names=output_names,
            do_constant_folding=True,
        )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    write_inputs(name, [(n, a.numpy()) for n, a in zip(input_names, args if isinstance(args, tuple) else (args,))])


def uniform(rng, shape, lo=0.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


# ---------------------------------------------------------------- cases


def mnist_inputs(name, batch):
    # The model is the seed's models/mnist-cnn/model.onnx (input "input", [N,1,28,28]).
    rng = np.random.default_rng(1)
    write_inputs(name, [("input", uniform(rng, (batch, 1, 28, 28)))])


def matmul(n):
    name = "matmul_%d" % n
    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])
    g = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["Y"], name="matmul")], name, [a, b], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="onyx-bench")
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out_dir(name), "model.onnx"))
    rng = np.random.default_rng(n)
    write_inputs(name, [("A", uniform(rng, (n, n), -1, 1)), ("B", uniform(rng, (n, n), -1, 1))])


def cifar_cnn():
    # The Keras CIFAR-10 example CNN, channels-first: 2x(Conv32) pool 2x(Conv64) pool, Dense 512, Dense 10.
    import torch
    from torch import nn

    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 6 * 6, 512), nn.ReLU(),
        nn.Linear(512, 10), nn.Softmax(dim=1),
    )
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    export_torch("cifar_cnn", net, (x,), ["input"], ["probs"])


def lstm50():
    # LSTM(50) over 10 steps of a 1-feature series (seq-major [10,1,1]), last state -> Dense(1).
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 50)
            self.fc = nn.Linear(50, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.fc(h[0])

    torch.manual_seed(4)
    x = torch.rand(10, 1, 1, generator=torch.Generator().manual_seed(5))
    export_torch("lstm50x10", Net(), (x,), ["input"], ["output"])


def embed_lstm64():
    # Embedding(5000, 64) -> LSTM(64) over 100 tokens -> Dense(1, sigmoid), batch 1.
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5000, 64)
            self.lstm = nn.LSTM(64, 64, batch_first=True)
            self.fc = nn.Linear(64, 1)

        def forward(self, ids):
            _, (h, _) = self.lstm(self.emb(ids))
            return torch.sigmoid(self.fc(h[0]))

    torch.manual_seed(6)
    ids = torch.randint(1, 5000, (1, 100), generator=torch.Generator().manual_seed(7), dtype=torch.int64)
    export_torch("embed_lstm64x100", Net(), (ids,), ["ids"], ["output"])


def speech_cnn():
    # Keyword-spotting CNN over 20 MFCCs x 80 frames: 3 conv blocks (BatchNorm folded at export),
    # global average pool, Dense(12) softmax.
    import torch
    from torch import nn

    def block(cin, cout, pool):
        layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(2))
        return layers

    torch.manual_seed(8)
    net = nn.Sequential(
        *block(1, 32, True), *block(32, 64, True), *block(64, 128, False),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 12), nn.Softmax(dim=1),
    )
    # Give BatchNorm non-trivial statistics so that folding it is not a no-op.
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 1, 20, 80, generator=torch.Generator().manual_seed(9))
    export_torch("speech_cnn", net, (x,), ["input"], ["probs"])


def torchvision_model(name, ctor):
    import torch

    torch.manual_seed(10)
    net = ctor(weights=None)
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(11))
    export_torch(name, net, (x,), ["input"], ["logits"])


def cases():
    import importlib

    out = []
    out.append(("mnist_b1", False, lambda: mnist_inputs("mnist_b1", 1)))
    out.append(("mnist_b64", False, lambda: mnist_inputs("mnist_b64", 64)))
    for n in (64, 128, 256, 512, 1024):
        out.append(("matmul_%d" % n, True, (lambda n=n: matmul(n))))
    out.append(("cifar_cnn", True, cifar_cnn))
    out.append(("lstm50x10", True, lstm50))
    out.append(("embed_lstm64x100", True, embed_lstm64))
    out.append(("speech_cnn", True, speech_cnn))

    def tv(name, attr):
        def make():
            try:
                models = importlib.import_module("torchvision.models")
            except ImportError:
                # The benchmark reports the case as missing; the others still get made.
                print("make_models.py: skipping %s: it needs torchvision (Debian: apt-get install python3-torchvision)" % name)
                return False
            torchvision_model(name, getattr(models, attr))
        return make

    out.append(("mobilenet_v2", True, tv("mobilenet_v2", "mobilenet_v2")))
    out.append(("resnet50", True, tv("resnet50", "resnet50")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rewrite files that exist")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    all_cases = cases()
    unknown = only - {c[0] for c in all_cases}
    if unknown:
        sys.exit("make_models.py: unknown case(s): %s" % ", ".join(sorted(unknown)))
    for name, with_model, make in all_cases:
        if only and name not in only:
            continue
        if not args.force and have(name, with_model):
            continue
        print("make_models.py: writing %s" % name, flush=True)
        if make() is False:
            continue
        d = os.path.join(HERE, name)
        for f in sorted(os.listdir(d)):
            size = os.path.getsize(os.path.join(d, f))
            print("  %s/%s %d bytes%s" % (name, f, size, "  (> 2 MB: keep out of git)" if size > 2_000_000 else ""))


if __name__ == "__main__":
    main()
