"""Float8 Cast fixtures (opset 19): float32 -> float8 -> float32 for the four
float8 types, saturating and not. Writes backend-layout cases float8_*; the
outputs come from ONNX Runtime (see README.md). Run with /usr/bin/python3."""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {17: "e4m3fn", 18: "e4m3fnuz", 19: "e5m2", 20: "e5m2fnuz"}
x = np.array([0, -0.0, 0.3, -1.0625, 1.3, 2.75, 100, 239, 241, 300, 448, 449, 470, 500, 1e5, -1e9,
              np.inf, -np.inf, np.nan, 1e-3, 3e-5, -7e-8], dtype=np.float32)

for code, name in TYPES.items():
    for sat in (1, 0):
        case = f"float8_cast_{name}_sat{sat}_19"
        nodes = [helper.make_node("Cast", ["x"], ["f8"], to=code, saturate=sat),
                 helper.make_node("Cast", ["f8"], ["y"], to=TensorProto.FLOAT)]
        g = helper.make_graph(nodes, case, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(x)])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [len(x)])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
        d = os.path.join(HERE, case, "test_data_set_0")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(HERE, case, "model.onnx"), "wb") as f:
            f.write(m.SerializeToString())
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "x").SerializeToString())
