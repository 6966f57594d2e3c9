#!/usr/bin/python3
"""Make the PyTorch reference for Onyx's one-step training check (step_test.go).

Usage (from the repository root):

    /usr/bin/python3 models/mnist-cnn/torch_step.py [MNIST_DIR]

Builds the CNN of main.go/model.go in PyTorch (Conv32-Pool-Conv64-Pool-Conv64-
Dense64-Dense10, Glorot-uniform weights from torch.manual_seed(7), zero biases),
runs ONE training step with softmax cross-entropy (mean over the batch) on the
first 8 MNIST training images, and writes testdata/torch_step.npz:

    x            float32 [8,1,28,28]   the batch (pixels/255)
    y            int64   [8]           its labels
    loss         float32 []            the cross-entropy before the step
    w/NAME       float32               the weights, named and laid out like Onyx's
                                       model (Gemm weights [in, out], i.e. torch's
                                       Linear weight transposed)
    g/NAME       float32               dloss/dNAME, same layout
    adam/NAME    float32               NAME after one torch.optim.Adam step (lr 1e-3)
                                       for the small tensors (biases, dense2) only

Default MNIST_DIR: ../../../shared/data/mnist relative to this script.
"""

import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
LR = 1e-3


def read_idx(path, n):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        return np.frombuffer(data, dtype=np.uint8, offset=16)[: n * 784].reshape(n, 28, 28)
    return np.frombuffer(data, dtype=np.uint8, offset=8)[:n]


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.dense1 = nn.Linear(576, 64)
        self.dense2 = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.conv3(x)).flatten(1)
        return self.dense2(torch.relu(self.dense1(x)))


def onyx_layout(name, t):
    a = t.detach().numpy().astype(np.float32)
    if name.startswith("dense") and name.endswith(".weight"):
        a = a.T  # Gemm(x, W) with W [in, out]
    return np.ascontiguousarray(a)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data", "mnist")
    torch.manual_seed(7)
    x = (read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"), 8).astype(np.float32) / np.float32(255))[:, None]
    y = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"), 8).astype(np.int64)
    model = CNN()
    out = {"x": x, "y": y}
    for name, p in model.named_parameters():
        out["w/" + name] = onyx_layout(name, p)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    out["loss"] = np.float32(loss.item())
    for name, p in model.named_parameters():
        out["g/" + name] = onyx_layout(name, p.grad)
    opt.step()
    for name, p in model.named_parameters():
        if name.endswith(".bias") or name.startswith("dense2"):
            out["adam/" + name] = onyx_layout(name, p)
    os.makedirs(os.path.join(HERE, "testdata"), exist_ok=True)
    path = os.path.join(HERE, "testdata", "torch_step.npz")
    np.savez(path, **out)
    print("labels", y.tolist(), "loss %.6f" % loss.item())
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
