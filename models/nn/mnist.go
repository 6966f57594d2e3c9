package nn

import "github.com/onyxrt/onyx/graph"

// MNISTCNN returns the untrained network of models/mnist-cnn (the
// TensorFlow "CNN" tutorial layout on MNIST): input "input" [N,1,28,28]
// -> Conv(32,3x3)-Relu-MaxPool(2) -> Conv(64,3x3)-Relu-MaxPool(2) ->
// Conv(64,3x3)-Relu -> Flatten(576) -> Dense 64-Relu -> Dense 10 ->
// "logits" [N,10]. Kernels are Glorot-uniform (seeded), biases zero. The
// feature maps go 28 -> 26 -> 13 -> 11 -> 5 -> 3; the features before the
// classifier are "features" [N,576]. The training benchmark
// (benchmarks/) builds it too.
func MNISTCNN(seed uint64) *graph.Model {
	s := New("mnist_cnn", "input", seed, 1, 28, 28)
	s.Conv2D(32, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").Flatten().Rename("features")
	s.Dense(64, "relu")
	s.Dense(10, "").Rename("logits")
	return s.Model("onyx models/mnist-cnn")
}
