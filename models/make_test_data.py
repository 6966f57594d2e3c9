"""Writes models/<name>/test_data_set_0/input_0.pb for the trained models:
seeded random inputs in each model's input range (no dataset samples, whose
licences do not all allow copying). The expected outputs come from ONNX
Runtime, written by testdata/exported/ort_reference.js:

    /usr/bin/python3 models/make_test_data.py
    ORT_NODE_MODULE=benchmarks/.ort/node_modules/onnxruntime-node \\
        node testdata/exported/ort_reference.js models/<name> ...
"""
import os
import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261127)

INPUTS = {
    # name: (shape with batch 3, dtype, generator)
    "mnist-transfer": lambda: rng.random((3, 1, 28, 28), dtype=np.float32),
    "speech-cnn": lambda: rng.standard_normal((3, 1, 20, 80)).astype(np.float32),
    "cifar10-cnn": lambda: rng.random((3, 3, 32, 32), dtype=np.float32),
    "imdb-lstm": lambda: rng.integers(0, 10000, size=(3, 100), dtype=np.int64),
    "xor-mlp": lambda: np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32),
}

for name, make in INPUTS.items():
    model = onnx.load(os.path.join(HERE, name, "model.onnx"))
    inp = model.graph.input[0].name
    d = os.path.join(HERE, name, "test_data_set_0")
    os.makedirs(d, exist_ok=True)
    t = numpy_helper.from_array(make(), inp)
    with open(os.path.join(d, "input_0.pb"), "wb") as f:
        f.write(t.SerializeToString())
    print("wrote", d)
