#!/usr/bin/python3
"""Builds the exported-model fixtures of testdata/exported/.

Each case is a folder in the ONNX backend-test layout:
    <name>/model.onnx
    <name>/test_data_set_0/input_N.pb      (written here)
    <name>/test_data_set_0/output_N.pb     (written by ort_reference.js: ONNX Runtime's outputs)

Models are small, with seeded random weights: PyTorch modules exported with
torch.onnx.export (opsets 9, 11, 13, 14, 17), and Keras/tf2onnx-style graphs
(NHWC Transpose -> Conv -> Transpose, MatMul+Add Dense, ...) written with
onnx.helper.

It also writes the framework's own outputs (PyTorch for the exported models,
a torch.nn.functional re-implementation for the onnx.helper graphs) as .npy
files under --ref-dir (outside the repository), so that `--compare` can check
that ONNX Runtime agrees with the framework.

usage (Debian's python: python3-onnx 1.12, python3-torch 1.13, numpy):
    /usr/bin/python3 make_fixtures.py [--out DIR] [--ref-dir DIR] [--only NAME,...]
    /usr/bin/python3 make_fixtures.py --compare [--out DIR] [--ref-dir DIR]
"""
import argparse
import io
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []  # (name, builder)


def case(fn):
    CASES.append((fn.__name__, fn))
    return fn


def randomize_bn(model, gen):
    """Gives every BatchNorm non-trivial running statistics and affine params."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.8 + 0.4)
            if m.affine:
                m.weight.data.copy_(torch.rand(c, generator=gen) * 0.8 + 0.6)
                m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)
    return model


class Spec:
    """What a builder returns."""

    def __init__(self, model_bytes, opset, doc, inputs, ref_outputs):
        self.model_bytes = model_bytes
        self.opset = opset
        self.doc = doc
        self.inputs = inputs            # list of (name, np.ndarray)
        self.ref_outputs = ref_outputs  # list of np.ndarray (framework's outputs), in graph-output order
        self.graph_ref_outputs = None   # where the exported graph differs from the module: the graph's semantics


def torch_export(name, module, example, test_inputs, opset, input_names, output_names, doc,
                 dynamic_axes=None, seed=0):
    """Exports module on example args; returns a Spec with test_inputs and torch's outputs on them."""
    module.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, tuple(example), buf, opset_version=opset,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
        outs = module(*test_inputs)
    if not isinstance(outs, (tuple, list)):
        outs = (outs,)
    flat = []
    for o in outs:  # flatten (y, (h, c)) of LSTMs
        if isinstance(o, (tuple, list)):
            flat.extend(o)
        else:
            flat.append(o)
    m = onnx.load_from_string(buf.getvalue())
    m.producer_name = "pytorch"
    m.doc_string = doc
    onnx.checker.check_model(m)
    return Spec(m.SerializeToString(), opset, doc,
                [(n, t.numpy()) for n, t in zip(input_names, test_inputs)],
                [o.detach().numpy() for o in flat])


def gen(seed):
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed + 1000)
    return g


def randn(g, *shape):
    return torch.randn(*shape, generator=g)


# --------------------------------------------------------------------------------------------
# CNNs


@case
def cnn_basic_opset9():
    g = gen(1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(2)
            self.avg = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
            self.drop = nn.Dropout(0.5)
            self.fc = nn.Linear(8 * 4 * 4, 10)

        def forward(self, x):
            x = self.bn(self.pool(F.relu(self.conv(x))))  # BN not right after Conv: not folded away
            x = self.avg(x)
            x = self.drop(torch.flatten(x, 1))
            return F.log_softmax(self.fc(x), dim=1)

    net = randomize_bn(Net(), g)
    return torch_export("cnn_basic_opset9", net, [randn(g, 2, 3, 16, 16)], [randn(g, 3, 3, 16, 16)], 9,
                        ["image"], ["log_probs"],
                        "Conv(stride 2, pad 1)+ReLU+MaxPool, BatchNormalization-9 (after the pool, so not folded into "
                        "the Conv), AvgPool k3 p1 count_include_pad (exported as Pad + AveragePool), Dropout "
                        "(eval: removed by the exporter), Flatten, Gemm, LogSoftmax; dynamic batch (exported "
                        "with 2, tested with 3)",
                        dynamic_axes={"image": {0: "batch"}, "log_probs": {0: "batch"}})


@case
def cnn_conv_variants_opset11():
    g = gen(2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.grouped = nn.Conv2d(4, 8, 3, groups=2, dilation=2, padding=2)
            self.same = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)  # "same"; padding="same" does not export in torch 1.13
            self.reflect = nn.Conv2d(8, 6, 3, padding=1, padding_mode="reflect")
            self.replicate = nn.Conv2d(6, 6, (3, 5), stride=2, padding=(1, 2), padding_mode="replicate")
            self.asym = nn.Conv2d(6, 4, (2, 3), stride=(1, 2), padding=(0, 1))

        def forward(self, x):
            x = F.relu6(self.grouped(x))
            x = F.leaky_relu(self.same(x), 0.2)
            x = F.relu6(self.reflect(x))
            x = F.elu(self.replicate(x))
            x = self.asym(x)
            return torch.softmax(x, dim=1)

    net = Net()
    x = randn(g, 1, 4, 15, 17)
    return torch_export("cnn_conv_variants_opset11", net, [x], [x], 11, ["x"], ["probs"],
                        "Conv groups=2+dilation=2, size-preserving dilated Conv (no bias), padding_mode reflect and "
                        "replicate (Pad op), kernel (3,5) stride 2, kernel (2,3) stride (1,2); ReLU6 (Clip with "
                        "min/max inputs), LeakyReLU, ELU; Softmax over the channel axis of a 4-D tensor at opset 11")


@case
def cnn_conv1d_circular_opset13():
    g = gen(3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(4, 8, 5, padding=2, padding_mode="circular")
            self.bn = nn.BatchNorm1d(8)
            self.c2 = nn.Conv1d(8, 8, 3, stride=2, dilation=2, groups=4)
            self.pool = nn.MaxPool1d(2, stride=2, ceil_mode=True)  # length 13 -> 7
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = F.gelu(self.bn(self.c1(x)))
            x = self.pool(F.hardswish(self.c2(x)))
            x = F.adaptive_avg_pool1d(x, 1).flatten(1)
            return self.fc(x)

    net = randomize_bn(Net(), g)
    ex, te = randn(g, 2, 4, 30), randn(g, 3, 4, 30)
    spec = torch_export("cnn_conv1d_circular_opset13", net, [ex], [te], 13,
                        ["signal"], ["logits"],
                        "Conv1d with circular padding (exported as Slice+Concat; see KNOWN_EXPORTER_BUGS), "
                        "BatchNorm1d (folded into the Conv), GELU (Erf), "
                        "grouped+dilated strided Conv1d, Hardswish (HardSigmoid*x at opset 13), MaxPool1d k2 s2 "
                        "ceil_mode on an odd length (13 -> 7), "
                        "AdaptiveAvgPool1d(1), Linear; dynamic batch",
                        dynamic_axes={"signal": {0: "N"}, "logits": {0: "N"}})
    # The same network with the circular pad written the way torch 1.13 exports it (see KNOWN_EXPORTER_BUGS).
    with torch.no_grad():
        xp = torch.cat([te[..., -3:-1], te, te[..., 0:2]], -1)
        x = F.gelu(net.bn(F.conv1d(xp, net.c1.weight, net.c1.bias)))
        x = F.adaptive_avg_pool1d(net.pool(F.hardswish(net.c2(x))), 1).flatten(1)
        spec.graph_ref_outputs = [net.fc(x).numpy()]
    return spec


@case
def cnn_depthwise_separable_opset14():
    g = gen(4)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
            self.bn0 = nn.BatchNorm2d(16)
            self.dw = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.pw = nn.Conv2d(16, 24, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(24)
            self.dw5 = nn.Conv2d(24, 24, 5, padding=2, groups=24)
            self.fc = nn.Linear(24, 7)

        def forward(self, x):
            x = F.hardswish(self.bn0(self.stem(x)))
            x = F.hardswish(self.bn1(self.dw(x)))
            x = F.silu(self.bn2(self.pw(x)))
            x = F.relu(self.dw5(x))
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return self.fc(x)

    net = randomize_bn(Net(), g)
    return torch_export("cnn_depthwise_separable_opset14", net, [randn(g, 1, 3, 32, 32)], [randn(g, 2, 3, 32, 32)],
                        14, ["input"], ["logits"],
                        "Depthwise-separable CNN: depthwise 3x3 stride 2 and 5x5 (group=C), pointwise 1x1, "
                        "BatchNorm (folded into the Convs by the exporter), HardSwish op (opset 14), SiLU (Sigmoid*Mul), "
                        "AdaptiveAvgPool(1) -> GlobalAveragePool; dynamic batch",
                        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


@case
def cnn_conv_transpose_opset11():
    g = gen(5)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up1 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
            self.up2 = nn.ConvTranspose2d(6, 4, 3, stride=1, padding=2, groups=2, dilation=2)
            self.up3 = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False)
            self.up1d = nn.ConvTranspose1d(8, 3, 5, stride=3, padding=1, output_padding=2)

        def forward(self, x, s):
            y = F.relu(self.up1(x))
            y = F.relu(self.up2(y))
            y = torch.sigmoid(self.up3(y))
            return y, self.up1d(s)

    net = Net()
    x, s = randn(g, 1, 8, 5, 6), randn(g, 2, 8, 7)
    return torch_export("cnn_conv_transpose_opset11", net, [x, s], [x, s], 11, ["feat", "seq"],
                        ["image", "seq_up"],
                        "ConvTranspose2d: k3 s2 p1 output_padding 1; k3 groups 2 dilation 2 p2; k4 s2 p1 no bias; "
                        "ConvTranspose1d k5 s3 p1 output_padding 2; two inputs, two outputs")


@case
def cnn_pooling_opset13():
    g = gen(6)

    class Net(nn.Module):
        def forward(self, x):
            return (
                F.max_pool2d(x, 3, stride=2, ceil_mode=True),
                F.max_pool2d(x, 3, stride=2, padding=1, dilation=2),
                F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                F.avg_pool2d(x, 2, stride=2, ceil_mode=True),
                F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True),
                F.adaptive_avg_pool2d(x[:, :, :9, :], (3, 2)),
                F.adaptive_max_pool2d(x, 1),
            )

    x = randn(g, 2, 3, 11, 8)
    outs = ["max_ceil", "max_dilated", "avg_ceil_excl_pad", "avg_ceil_k2", "avg_incl_pad", "adaptive_avg_3x2",
            "adaptive_max_1"]
    return torch_export("cnn_pooling_opset13", Net(), [x], [x], 13, ["x"], outs,
                        "Pooling on an 11x8 map, one output each: MaxPool k3 s2 ceil_mode; MaxPool k3 s2 p1 "
                        "dilation 2; AvgPool k3 s2 p1 ceil_mode count_include_pad=False; AvgPool k2 s2 ceil_mode "
                        "on an odd size (Pad + AveragePool ceil_mode: the partial last window averages only "
                        "its in-bounds elements); AvgPool k3 s2 p1 count_include_pad=True (Pad + AveragePool); AdaptiveAvgPool (3,2) of the top 9 rows "
                        "(Slice, then AveragePool k(3,4) s(3,4)); AdaptiveMaxPool(1) (MaxPool with kernel = input "
                        "size)")


# --------------------------------------------------------------------------------------------
# activations


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.prelu = nn.PReLU(4, init=0.15)

    def forward(self, x):
        return (
            F.leaky_relu(x, 0.1), F.gelu(x), F.silu(x), F.hardswish(x), F.elu(x, alpha=0.7), F.relu6(x * 4),
            torch.softmax(x, dim=1), F.log_softmax(x, dim=-1), F.softplus(x), self.prelu(x), F.selu(x),
            F.hardtanh(x, -0.5, 0.75), F.hardsigmoid(x), torch.tanh(x) * torch.sigmoid(x),
        )


ACT_OUTS = ["leaky_relu", "gelu", "silu", "hardswish", "elu", "relu6", "softmax_dim1", "log_softmax_last",
            "softplus", "prelu", "selu", "hardtanh", "hardsigmoid", "tanh_sigmoid"]


@case
def activations_opset9():
    g = gen(7)
    x = randn(g, 2, 4, 3, 5) * 3
    return torch_export("activations_opset9", Activations(), [x], [x], 9, ["x"], ACT_OUTS,
                        "One output per activation at opset 9: LeakyReLU, GELU (Erf), SiLU, Hardswish "
                        "(HardSigmoid*x), ELU, ReLU6 (Clip attributes), Softmax dim=1 of 4-D (opset<13 Softmax "
                        "coerces to 2-D, so torch transposes), LogSoftmax, Softplus, PReLU (per channel), SELU, "
                        "Hardtanh, Hardsigmoid, Tanh*Sigmoid")


@case
def activations_opset17():
    g = gen(8)
    x = randn(g, 2, 4, 3, 5) * 3
    return torch_export("activations_opset17", Activations(), [x], [x], 17, ["x"], ACT_OUTS,
                        "Same activations at opset 17: HardSwish op, Clip with min/max inputs, Softmax-13 "
                        "(single axis)")


# --------------------------------------------------------------------------------------------
# architectures


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + idt)


@case
def resnet_block_opset13():
    g = gen(9)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 5, 2, 2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            self.b1 = BasicBlock(8, 8, 1)
            self.b2 = BasicBlock(8, 16, 2)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            x = self.b2(self.b1(self.stem(x)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))

    net = randomize_bn(Net(), g)
    return torch_export("resnet_block_opset13", net, [randn(g, 2, 3, 32, 32)], [randn(g, 3, 3, 32, 32)], 13,
                        ["input"], ["logits"],
                        "Small ResNet: stem Conv7-like (k5 s2) + BN + ReLU + MaxPool(3,2,1), a BasicBlock with "
                        "identity shortcut and one with a stride-2 1x1 Conv+BN downsample, residual Add, "
                        "GlobalAveragePool, Flatten, Gemm; dynamic batch",
                        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


@case
def mobilenetv2_block_opset11():
    g = gen(10)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
            self.blocks = nn.Sequential(InvertedResidual(8, 8, 1, 4), InvertedResidual(8, 12, 2, 6),
                                        InvertedResidual(12, 12, 1, 6))
            self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 5))

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.head(x.mean([2, 3]))

    net = randomize_bn(Net(), g)
    return torch_export("mobilenetv2_block_opset11", net, [randn(g, 2, 3, 24, 24)], [randn(g, 1, 3, 24, 24)], 11,
                        ["image"], ["logits"],
                        "MobileNetV2 inverted residuals (1x1 expand + BN + ReLU6, depthwise 3x3 + BN + ReLU6, "
                        "1x1 project + BN; BNs folded into the Convs), residual Add when stride 1, ReLU6 as Clip with "
                        "min/max inputs, ReduceMean over H,W, Dropout (removed by the exporter), Gemm; "
                        "dynamic batch (tested with batch 1)",
                        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})


# --------------------------------------------------------------------------------------------
# recurrent


@case
def lstm_1layer_opset9():
    g = gen(11)
    net = nn.LSTM(8, 16)
    return torch_export("lstm_1layer_opset9", net, [randn(g, 5, 2, 8)], [randn(g, 7, 2, 8)], 9, ["x"],
                        ["y", "h_n", "c_n"],
                        "nn.LSTM(8,16), one layer, sequence-first [T,N,F], zero initial state; dynamic T "
                        "(exported with 5, tested with 7)",
                        dynamic_axes={"x": {0: "T"}, "y": {0: "T"}})


@case
def lstm_2layer_bidir_batchfirst_opset11():
    g = gen(12)
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(6, 10, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, x, h0, c0):
            y, (h, c) = self.lstm(x, (h0, c0))
            return y, h, c

    args = [randn(g, 3, 4, 6), randn(g, 4, 3, 10), randn(g, 4, 3, 10)]
    return torch_export("lstm_2layer_bidir_batchfirst_opset11", Net(), args, args, 11,
                        ["x", "h0", "c0"], ["y", "h_n", "c_n"],
                        "nn.LSTM(6,10,num_layers=2,bidirectional=True,batch_first=True) with initial states h0,c0 "
                        "as graph inputs; batch-first handled by Transpose around ONNX LSTM (layout 0)")


@case
def gru_bidir_batchfirst_opset13():
    g = gen(13)
    net = nn.GRU(5, 12, bidirectional=True, batch_first=True)
    args = [randn(g, 2, 6, 5), randn(g, 2, 2, 12)]
    return torch_export("gru_bidir_batchfirst_opset13", net, args, args, 13, ["x", "h0"], ["y", "h_n"],
                        "nn.GRU(5,12,bidirectional=True,batch_first=True) with h0 input "
                        "(linear_before_reset=1, torch gate order converted)")


@case
def gru_2layer_opset9():
    g = gen(14)
    net = nn.GRU(7, 9, num_layers=2)
    return torch_export("gru_2layer_opset9", net, [randn(g, 4, 2, 7)], [randn(g, 4, 3, 7)], 9, ["x"],
                        ["y", "h_n"], "nn.GRU(7,9,num_layers=2), sequence-first, dynamic batch",
                        dynamic_axes={"x": {1: "N"}, "y": {1: "N"}, "h_n": {1: "N"}})


@case
def rnn_tanh_bidir_2layer_opset11():
    g = gen(15)
    net = nn.RNN(6, 8, num_layers=2, bidirectional=True)
    return torch_export("rnn_tanh_bidir_2layer_opset11", net, [randn(g, 5, 2, 6)], [randn(g, 5, 2, 6)], 11,
                        ["x"], ["y", "h_n"], "nn.RNN(6,8,num_layers=2,bidirectional=True), tanh")


@case
def rnn_relu_batchfirst_opset14():
    g = gen(16)
    net = nn.RNN(4, 6, nonlinearity="relu", batch_first=True)
    args = [randn(g, 2, 5, 4), randn(g, 1, 2, 6)]
    return torch_export("rnn_relu_batchfirst_opset14", net, args, args, 14, ["x", "h0"], ["y", "h_n"],
                        "nn.RNN(4,6,nonlinearity='relu',batch_first=True) with h0 input (activations=[Relu])")


@case
def text_embedding_lstm_classifier_opset13():
    g = gen(17)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(200, 16, padding_idx=0)
            self.lstm = nn.LSTM(16, 24, batch_first=True)
            self.fc = nn.Linear(24, 3)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.emb(tokens))
            return torch.softmax(self.fc(h[-1]), dim=-1)

    tok_ex = torch.randint(1, 200, (2, 9), generator=g)
    tok = torch.randint(1, 200, (3, 12), generator=g)
    tok[0, :4] = 0  # leading padding
    return torch_export("text_embedding_lstm_classifier_opset13", Net(), [tok_ex], [tok], 13, ["tokens"],
                        ["probs"],
                        "Text classifier: int64 token ids -> Embedding(200,16,padding_idx=0) (Gather) -> "
                        "LSTM(batch_first) -> last hidden state -> Linear -> Softmax; dynamic batch and length "
                        "(exported [2,9], tested [3,12])",
                        dynamic_axes={"tokens": {0: "batch", 1: "len"}, "probs": {0: "batch"}})


# --------------------------------------------------------------------------------------------
# multi-input, normalization, attention


@case
def two_input_image_vector_opset14():
    g = gen(18)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
            self.vec = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
            self.head = nn.Sequential(nn.BatchNorm1d(16), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 2))

        def forward(self, img, v):
            return self.head(torch.cat([self.conv(img), self.vec(v)], dim=1))

    net = randomize_bn(Net(), g)
    ex = [randn(g, 2, 3, 12, 12), randn(g, 2, 6)]
    te = [randn(g, 4, 3, 12, 12), randn(g, 4, 6)]
    return torch_export("two_input_image_vector_opset14", net, ex, te, 14, ["image", "features"], ["score"],
                        "Two inputs: image CNN branch and vector MLP branch, Concat on axis 1, BatchNorm1d "
                        "(BatchNormalization-14 on [B,16]), MLP head; dynamic batch",
                        dynamic_axes={"image": {0: "B"}, "features": {0: "B"}, "score": {0: "B"}})


@case
def layernorm_mlp_opset17():
    g = gen(19)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(16)
            self.fc1 = nn.Linear(16, 32)
            self.ln2 = nn.LayerNorm([5, 32], eps=1e-3)  # elementwise_affine=False exports an invalid node in torch 1.13
            self.fc2 = nn.Linear(32, 16)

        def forward(self, x):
            y = F.gelu(self.fc1(self.ln1(x)), approximate="tanh")
            y = self.fc2(self.ln2(y))
            return x + y

    net = Net()
    with torch.no_grad():
        net.ln1.weight.copy_(torch.rand(16, generator=g) + 0.5)
        net.ln1.bias.copy_(torch.randn(16, generator=g) * 0.1)
        net.ln2.weight.copy_(torch.rand(5, 32, generator=g) + 0.5)
        net.ln2.bias.copy_(torch.randn(5, 32, generator=g) * 0.1)
    return torch_export("layernorm_mlp_opset17", net, [randn(g, 2, 5, 16)], [randn(g, 3, 5, 16) * 2 + 1], 17,
                        ["x"], ["y"],
                        "LayerNormalization op (opset 17) over the last axis (affine) and over the last two axes "
                        "(eps 1e-3, [5,32] scale and bias), GELU tanh approximation, MatMul+Add, residual; dynamic batch",
                        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


@case
def transformer_encoder_opset14():
    g = gen(20)
    net = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.1)
    return torch_export("transformer_encoder_opset14", net, [randn(g, 6, 2, 32)], [randn(g, 9, 2, 32)], 14,
                        ["src"], ["out"],
                        "nn.TransformerEncoderLayer(d_model=32,nhead=4,dim_feedforward=64), sequence-first, "
                        "post-norm, ReLU FFN, Dropout (removed by the exporter); multi-head attention as MatMul/Reshape/Transpose/"
                        "Softmax, LayerNorm decomposed (ReduceMean/Sub/Pow/Sqrt/Div); dynamic sequence length",
                        dynamic_axes={"src": {0: "S"}, "out": {0: "S"}})


@case
def transformer_encoder_causal_opset17():
    g = gen(21)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model=24, nhead=3, dim_feedforward=48, dropout=0.1,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.out = nn.Linear(24, 4)

        def forward(self, x):
            s = x.shape[1]
            mask = torch.triu(torch.full((s, s), float("-inf")), diagonal=1)
            return self.out(self.enc(x, mask=mask))

    net = Net()
    x = randn(g, 2, 7, 24)
    return torch_export("transformer_encoder_causal_opset17", net, [x], [x], 17, ["x"], ["y"],
                        "nn.TransformerEncoder of 2 pre-norm (norm_first) layers, batch_first, GELU FFN, additive "
                        "causal mask (-inf above the diagonal), LayerNormalization op (opset 17), Linear head")


# --------------------------------------------------------------------------------------------
# upsampling


@case
def upsample_nearest_opset9():
    g = gen(22)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.up(x))

    x = randn(g, 1, 4, 5, 6)
    return torch_export("upsample_nearest_opset9", Net(), [x], [x], 9, ["x"], ["y"],
                        "nn.Upsample(scale_factor=2, mode='nearest') exported as the opset-9 Upsample op, then Conv")


class Upsamplers(nn.Module):
    def forward(self, x):
        return (
            F.interpolate(x, scale_factor=2, mode="nearest"),
            F.interpolate(x, size=(8, 11), mode="nearest"),
            F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
            F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
            F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False),
            F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True),
        )


UP_OUTS = ["nearest_x2", "nearest_size_8x11", "bilinear_x2", "bilinear_x2_align", "bilinear_7x9",
           "bilinear_7x9_align"]


@case
def upsample_resize_opset11():
    g = gen(23)
    x = randn(g, 2, 3, 4, 5)
    return torch_export("upsample_resize_opset11", Upsamplers(), [x], [x], 11, ["x"], UP_OUTS,
                        "F.interpolate as Resize-11: nearest x2 (asymmetric, floor), nearest to size 8x11 "
                        "(non-integer scale, 'sizes' input built with Shape/Slice/Concat), bilinear (mode "
                        "linear) x2 and to size 7x9 with align_corners False (coordinate_transformation_mode "
                        "half_pixel) and True (align_corners)")


@case
def upsample_resize_opset13():
    g = gen(24)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=False)
            self.up_ac = nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True)
            self.up_n = nn.Upsample(scale_factor=(2, 3), mode="nearest")

        def forward(self, x):
            return self.up(x), self.up_ac(x), self.up_n(x)

    x = randn(g, 1, 2, 6, 4)
    return torch_export("upsample_resize_opset13", Net(), [x], [x], 13, ["x"],
                        ["bilinear_x1_5", "bilinear_x3_align", "nearest_2x3"],
                        "nn.Upsample as Resize-13: bilinear scale 1.5 (align_corners False), bilinear scale 3 "
                        "(align_corners True), nearest scale (2,3)")


# --------------------------------------------------------------------------------------------
# Keras / tf2onnx-style graphs written with onnx.helper


def helper_model(name, nodes, inits, inputs, outputs, opset, doc, producer):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer,
                          doc_string=doc)
    m.ir_version = 7 if opset <= 13 else 8
    onnx.checker.check_model(m)
    onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return m.SerializeToString()


def vinfo(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def npr(seed):
    return np.random.default_rng(seed)


def w(rng, *shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    s = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return (rng.standard_normal(shape) * s).astype(np.float32)


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@case
def keras_nhwc_cnn_tf2onnx_opset13():
    rng = npr(101)
    p = {
        "conv1/kernel": w(rng, 8, 3, 3, 3), "conv1/bias": w(rng, 8, scale=0.1),
        "conv2/kernel": w(rng, 16, 8, 3, 3), "conv2/bias": w(rng, 16, scale=0.1),
        "dense/kernel": w(rng, 256, 32, scale=1 / 16), "dense/bias": w(rng, 32, scale=0.1),
        "dense_1/kernel": w(rng, 32, 10, scale=1 / np.sqrt(32)), "dense_1/bias": w(rng, 10, scale=0.1),
        "reshape_shape": np.array([-1, 256], np.int64),
    }
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["t0"], perm=[0, 3, 1, 2], name="conv1__6"),
        helper.make_node("Conv", ["t0", "conv1/kernel", "conv1/bias"], ["c1"], pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], strides=[1, 1], dilations=[1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="conv1/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="max_pooling2d"),
        helper.make_node("Conv", ["p1", "conv2/kernel", "conv2/bias"], ["c2"], auto_pad="SAME_UPPER",
                         kernel_shape=[3, 3], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="conv2/Relu"),
        helper.make_node("Transpose", ["r2"], ["t1"], perm=[0, 2, 3, 1], name="conv2__12"),
        helper.make_node("Reshape", ["t1", "reshape_shape"], ["flat"], name="flatten/Reshape"),
        helper.make_node("MatMul", ["flat", "dense/kernel"], ["d0"], name="dense/MatMul"),
        helper.make_node("Add", ["d0", "dense/bias"], ["d1"], name="dense/BiasAdd"),
        helper.make_node("Relu", ["d1"], ["d2"], name="dense/Relu"),
        helper.make_node("Dropout", ["d2"], ["d3"], name="dropout"),
        helper.make_node("MatMul", ["d3", "dense_1/kernel"], ["e0"], name="dense_1/MatMul"),
        helper.make_node("Add", ["e0", "dense_1/bias"], ["e1"], name="dense_1/BiasAdd"),
        helper.make_node("Softmax", ["e1"], ["dense_1"], axis=-1, name="dense_1/Softmax"),
    ]
    mb = helper_model("keras_nhwc_cnn", nodes, p, [vinfo("input_1", ["unk__24", 16, 16, 3])],
                      [vinfo("dense_1", ["unk__25", 10])], 13,
                      "Keras-style NHWC CNN as tf2onnx writes it: Transpose -> Conv(explicit pads) -> Relu -> "
                      "MaxPool -> Conv(auto_pad SAME_UPPER, stride 2 on an even size: pad only at the end) -> Relu "
                      "-> Transpose back -> Reshape([-1,256]) -> MatMul+Add (Dense) -> Relu -> Dropout(inference, "
                      "opset 13, one input) -> MatMul+Add -> Softmax(-1)", "tf2onnx-style (onnx.helper)")
    x = np.random.default_rng(1).random((2, 16, 16, 3), dtype=np.float32)
    # reference with torch.nn.functional
    t = T(x).permute(0, 3, 1, 2)
    t = F.max_pool2d(F.relu(F.conv2d(t, T(p["conv1/kernel"]), T(p["conv1/bias"]), padding=1)), 2)
    t = F.pad(t, (0, 1, 0, 1))
    t = F.relu(F.conv2d(t, T(p["conv2/kernel"]), T(p["conv2/bias"]), stride=2))
    t = t.permute(0, 2, 3, 1).reshape(-1, 256)
    t = F.relu(t @ T(p["dense/kernel"]) + T(p["dense/bias"]))
    t = torch.softmax(t @ T(p["dense_1/kernel"]) + T(p["dense_1/bias"]), -1)
    return Spec(mb, 13, "", [("input_1", x)], [t.numpy()])


@case
def keras_nhwc_bn_keras2onnx_opset9():
    rng = npr(102)
    c = 6
    p = {
        "conv/kernel": w(rng, c, 1, 3, 3), "conv/bias": w(rng, c, scale=0.1),
        "bn/gamma": (rng.random(c) + 0.5).astype(np.float32), "bn/beta": w(rng, c, scale=0.1),
        "bn/mean": w(rng, c, scale=0.2), "bn/var": (rng.random(c) + 0.5).astype(np.float32),
        "dense/kernel": w(rng, c * 5 * 5, 1), "dense/bias": w(rng, 1, scale=0.1),
    }
    nodes = [
        helper.make_node("Transpose", ["conv2d_input"], ["t0"], perm=[0, 3, 1, 2], name="conv2d_input_nchw"),
        helper.make_node("Conv", ["t0", "conv/kernel", "conv/bias"], ["c1"], auto_pad="VALID", kernel_shape=[3, 3],
                         name="conv2d"),
        helper.make_node("BatchNormalization", ["c1", "bn/gamma", "bn/beta", "bn/mean", "bn/var"], ["b1"],
                         epsilon=0.001, name="batch_normalization"),
        helper.make_node("LeakyRelu", ["b1"], ["l1"], alpha=0.3, name="leaky_re_lu"),
        helper.make_node("AveragePool", ["l1"], ["a1"], kernel_shape=[2, 2], strides=[2, 2],
                         name="average_pooling2d"),
        helper.make_node("Transpose", ["a1"], ["t1"], perm=[0, 2, 3, 1], name="average_pooling2d_nhwc"),
        helper.make_node("Flatten", ["t1"], ["f1"], axis=1, name="flatten"),
        helper.make_node("MatMul", ["f1", "dense/kernel"], ["m1"], name="dense"),
        helper.make_node("Add", ["m1", "dense/bias"], ["a2"], name="dense_bias"),
        helper.make_node("Sigmoid", ["a2"], ["dense_out"], name="dense_sigmoid"),
    ]
    mb = helper_model("keras_nhwc_bn", nodes, p, [vinfo("conv2d_input", ["N", 12, 12, 1])],
                      [vinfo("dense_out", ["N", 1])], 9,
                      "keras2onnx-style graph at opset 9: NHWC Transpose -> Conv(auto_pad VALID) -> "
                      "BatchNormalization-9 (eps 1e-3) -> LeakyRelu(0.3) -> AveragePool -> Transpose -> Flatten -> "
                      "MatMul+Add -> Sigmoid", "keras2onnx-style (onnx.helper)")
    x = np.random.default_rng(2).random((3, 12, 12, 1), dtype=np.float32)
    t = F.conv2d(T(x).permute(0, 3, 1, 2), T(p["conv/kernel"]), T(p["conv/bias"]))
    t = F.batch_norm(t, T(p["bn/mean"]), T(p["bn/var"]), T(p["bn/gamma"]), T(p["bn/beta"]), eps=1e-3)
    t = F.avg_pool2d(F.leaky_relu(t, 0.3), 2)
    t = t.permute(0, 2, 3, 1).reshape(3, -1)
    t = torch.sigmoid(t @ T(p["dense/kernel"]) + T(p["dense/bias"]))
    return Spec(mb, 9, "", [("conv2d_input", x)], [t.numpy()])


@case
def keras_timedistributed_dense_tf2onnx_opset11():
    rng = npr(103)
    p = {
        "td/kernel": w(rng, 6, 8), "td/bias": w(rng, 8, scale=0.1),
        "out/kernel": w(rng, 40, 4), "out/bias": w(rng, 4, scale=0.1),
        "const_zero": np.array([0], np.int64), "const_forty": np.array([40], np.int64),
    }
    nodes = [
        helper.make_node("MatMul", ["input", "td/kernel"], ["m0"], name="time_distributed/MatMul"),
        helper.make_node("Add", ["m0", "td/bias"], ["a0"], name="time_distributed/BiasAdd"),
        helper.make_node("Tanh", ["a0"], ["h0"], name="time_distributed/Tanh"),
        helper.make_node("Shape", ["h0"], ["shp"], name="flatten/Shape"),
        helper.make_node("Gather", ["shp", "const_zero"], ["n"], axis=0, name="flatten/strided_slice"),
        helper.make_node("Concat", ["n", "const_forty"], ["newshape"], axis=0, name="flatten/Reshape/shape"),
        helper.make_node("Reshape", ["h0", "newshape"], ["flat"], name="flatten/Reshape"),
        helper.make_node("MatMul", ["flat", "out/kernel"], ["m1"], name="dense/MatMul"),
        helper.make_node("Add", ["m1", "out/bias"], ["a1"], name="dense/BiasAdd"),
        helper.make_node("Softmax", ["a1"], ["output"], axis=1, name="dense/Softmax"),
    ]
    mb = helper_model("keras_td", nodes, p, [vinfo("input", ["unk__7", 5, 6])], [vinfo("output", ["unk__8", 4])], 11,
                      "tf2onnx-style TimeDistributed(Dense) on [N,5,6]: 3-D MatMul with a 2-D kernel + Add + Tanh, "
                      "Flatten as Shape -> Gather -> Concat -> Reshape (dynamic target shape), Dense, Softmax-11 "
                      "axis 1", "tf2onnx-style (onnx.helper)")
    x = np.random.default_rng(3).standard_normal((4, 5, 6)).astype(np.float32)
    t = torch.tanh(T(x) @ T(p["td/kernel"]) + T(p["td/bias"])).reshape(4, 40)
    t = torch.softmax(t @ T(p["out/kernel"]) + T(p["out/bias"]), 1)
    return Spec(mb, 11, "", [("input", x)], [t.numpy()])


@case
def keras_nhwc_depthwise_tf2onnx_opset13():
    rng = npr(104)
    c = 8
    p = {
        "conv/kernel": w(rng, c, 3, 3, 3), "conv/bias": w(rng, c, scale=0.1),
        "dw/kernel": w(rng, c, 1, 3, 3), "dw/bias": w(rng, c, scale=0.1),
        "bn/scale": (rng.random((1, c, 1, 1)) + 0.5).astype(np.float32),
        "bn/offset": w(rng, 1, c, 1, 1, scale=0.1),
        "relu6/min": np.array(0, np.float32), "relu6/max": np.array(6, np.float32),
        "dense/kernel": w(rng, c, 3), "dense/bias": w(rng, 3, scale=0.1),
    }
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["t0"], perm=[0, 3, 1, 2], name="Conv1__5"),
        helper.make_node("Conv", ["t0", "conv/kernel", "conv/bias"], ["c1"], pads=[0, 0, 1, 1], strides=[2, 2],
                         kernel_shape=[3, 3], name="Conv1"),
        helper.make_node("Clip", ["c1", "relu6/min", "relu6/max"], ["r1"], name="Conv1_relu"),
        helper.make_node("Conv", ["r1", "dw/kernel", "dw/bias"], ["c2"], group=c, pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], name="expanded_conv_depthwise"),
        helper.make_node("Mul", ["c2", "bn/scale"], ["s2"], name="expanded_conv_depthwise_BN/mul"),
        helper.make_node("Add", ["s2", "bn/offset"], ["b2"], name="expanded_conv_depthwise_BN/add"),
        helper.make_node("Clip", ["b2", "relu6/min", "relu6/max"], ["r2"], name="expanded_conv_depthwise_relu"),
        helper.make_node("Transpose", ["r2"], ["t1"], perm=[0, 2, 3, 1], name="expanded_conv_depthwise__12"),
        helper.make_node("ReduceMean", ["t1"], ["gap"], axes=[1, 2], keepdims=0, name="global_average_pooling2d"),
        helper.make_node("MatMul", ["gap", "dense/kernel"], ["m"], name="dense/MatMul"),
        helper.make_node("Add", ["m", "dense/bias"], ["logits"], name="dense/BiasAdd"),
    ]
    mb = helper_model("keras_dw", nodes, p, [vinfo("input_1", ["unk__150", 14, 14, 3])],
                      [vinfo("logits", ["unk__151", 3])], 13,
                      "tf2onnx-style MobileNet head: NHWC Transpose -> Conv stride 2 with asymmetric pads "
                      "[0,0,1,1] (TF 'same') -> Clip(0,6) (ReLU6, min/max inputs) -> depthwise Conv (group=8) -> "
                      "BatchNorm as Mul+Add of [1,C,1,1] constants -> Clip -> Transpose -> ReduceMean axes [1,2] "
                      "keepdims 0 (GlobalAveragePooling2D) -> MatMul+Add", "tf2onnx-style (onnx.helper)")
    x = (np.random.default_rng(4).random((2, 14, 14, 3), dtype=np.float32) * 2 - 1)
    t = F.pad(T(x).permute(0, 3, 1, 2), (0, 1, 0, 1))
    t = torch.clamp(F.conv2d(t, T(p["conv/kernel"]), T(p["conv/bias"]), stride=2), 0, 6)
    t = F.conv2d(t, T(p["dw/kernel"]), T(p["dw/bias"]), padding=1, groups=c)
    t = torch.clamp(t * T(p["bn/scale"]) + T(p["bn/offset"]), 0, 6)
    t = t.permute(0, 2, 3, 1).mean((1, 2))
    t = t @ T(p["dense/kernel"]) + T(p["dense/bias"])
    return Spec(mb, 13, "", [("input_1", x)], [t.numpy()])


# --------------------------------------------------------------------------------------------


def write_case(out, name, spec, ref_dir):
    d = os.path.join(out, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(spec.model_bytes)
    m = onnx.load_from_string(spec.model_bytes)
    init = {i.name for i in m.graph.initializer}
    gin = [i.name for i in m.graph.input if i.name not in init]
    assert gin == [n for n, _ in spec.inputs], (name, gin, [n for n, _ in spec.inputs])
    for i, (n, a) in enumerate(spec.inputs):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    outs = [o.name for o in m.graph.output]
    assert len(outs) == len(spec.ref_outputs), (name, outs, len(spec.ref_outputs))
    rd = os.path.join(ref_dir, name)
    if os.path.isdir(rd):
        shutil.rmtree(rd)
    os.makedirs(rd)
    for i, a in enumerate(spec.ref_outputs):
        np.save(os.path.join(rd, "ref_%d.npy" % i), a)
    for i, a in enumerate(spec.graph_ref_outputs or []):
        np.save(os.path.join(rd, "graph_ref_%d.npy" % i), a)
    ops = sorted({n.op_type for n in m.graph.node})
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    size = len(spec.model_bytes)
    print("%-45s opset %2d %7d B  in %s  out %s  ops %s" % (name, opset, size,
                                                           [(n, list(a.shape), str(a.dtype)) for n, a in spec.inputs],
                                                           outs, ",".join(ops)))
    assert size < 500_000, (name, size)


# Cases where the exported graph itself differs from the PyTorch module (an exporter bug), so ORT
# (which runs the graph as written) cannot agree with PyTorch. Onyx is checked against ORT, i.e.
# against the graph as written, so these cases stay useful.
KNOWN_EXPORTER_BUGS = {
    "cnn_conv1d_circular_opset13":
        "torch 1.13 exports the left circular pad of Conv1d as Slice(x, starts=-3, ends=-1), i.e. x[..., -3:-1], "
        "instead of x[..., -2:] (the right pad x[..., 0:2] is right); --compare also checks ORT against the "
        "module with that padding (graph_ref_N.npy)",
}


def compare(out, ref_dir, rtol, atol):
    bad = 0
    for name, _ in CASES:
        d = os.path.join(out, name, "test_data_set_0")
        m = onnx.load(os.path.join(out, name, "model.onnx"))
        worst = 0.0
        msgs = []
        for i, o in enumerate(m.graph.output):
            p = os.path.join(d, "output_%d.pb" % i)
            if not os.path.exists(p):
                msgs.append("%s: no output_%d.pb" % (o.name, i))
                continue
            t = onnx.TensorProto()
            with open(p, "rb") as f:
                t.ParseFromString(f.read())
            got = numpy_helper.to_array(t)
            ref = np.load(os.path.join(ref_dir, name, "ref_%d.npy" % i))
            gref = os.path.join(ref_dir, name, "graph_ref_%d.npy" % i)
            if os.path.exists(gref):
                gdiff = float(np.abs(got.astype(np.float64) - np.load(gref)).max())
                ok = np.allclose(got, np.load(gref), rtol=rtol, atol=atol)
                msgs.append("%s: the graph's semantics re-implemented in torch %s ORT (max |diff| %.2g)" % (
                    o.name, "agrees with" if ok else "DISAGREES with", gdiff))
                if not ok:
                    msgs.append("DIFF")
            if t.name != o.name:
                msgs.append("output_%d.pb named %r, graph output %r" % (i, t.name, o.name))
            if got.shape != ref.shape or got.dtype != ref.dtype:
                msgs.append("%s: ORT %s %s, framework %s %s" % (o.name, got.shape, got.dtype, ref.shape, ref.dtype))
                continue
            diff = np.abs(got.astype(np.float64) - ref)
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
            if not np.allclose(got, ref, rtol=rtol, atol=atol):
                k = int(np.argmax(diff - rtol * np.abs(ref)))
                msgs.append("%s: max |diff| %.3g (ORT %r, framework %r at flat index %d)" % (
                    o.name, diff.max(), got.flat[k], ref.flat[k], k))
        status = "ok  " if not msgs else "DIFF"
        if msgs and name in KNOWN_EXPORTER_BUGS and "DIFF" not in msgs:
            status = "KNOWN"
            msgs.append("known exporter bug: " + KNOWN_EXPORTER_BUGS[name])
        bad += status == "DIFF"
        print("%s %-45s max |ORT - framework| = %.2g  %s" % (status, name, worst, "; ".join(msgs)))
    print("%d of %d cases disagree with the framework beyond rtol %g, atol %g (not counting %d known exporter "
          "bugs)" % (bad, len(CASES), rtol, atol, len(KNOWN_EXPORTER_BUGS)))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="where the case folders go (default: this script's folder)")
    ap.add_argument("--ref-dir", default="/tmp/onyx-exported-framework-ref",
                    help="where the framework's own outputs (.npy) go, outside the repository")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--compare", action="store_true",
                    help="compare output_N.pb (ONNX Runtime) with the framework outputs in --ref-dir")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    a = ap.parse_args()
    if a.compare:
        sys.exit(1 if compare(a.out, a.ref_dir, a.rtol, a.atol) else 0)
    only = set(filter(None, a.only.split(",")))
    failed = 0
    for name, fn in CASES:
        if only and name not in only:
            continue
        try:
            spec = fn()
        except Exception as e:  # report every failing builder, not just the first
            print("ERROR %s: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
            failed += 1
            continue
        write_case(a.out, name, spec, a.ref_dir)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
