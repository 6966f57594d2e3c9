package main

import (
	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/models/nn"
)

// buildCNN returns the untrained CIFAR-10 network of the TensorFlow "CNN"
// tutorial: input "input" [N,3,32,32] (pixels/255) ->
// Conv(32,3x3)-Relu-MaxPool(2) -> Conv(64,3x3)-Relu-MaxPool(2) ->
// Conv(64,3x3)-Relu -> Flatten(64*4*4=1024) -> Dense 64-Relu -> Dense 10
// -> "logits". Glorot-uniform kernels (seeded), zero biases.
func buildCNN(seed uint64) *graph.Model {
	s := nn.New("cifar10_cnn", "input", seed, 3, 32, 32)
	s.Conv2D(32, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").Flatten()
	s.Dense(64, "relu")
	s.Dense(10, "").Rename("logits")
	return s.Model("onyx models/cifar10-cnn")
}
