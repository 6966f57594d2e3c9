package main

import (
	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/models/nn"
)

// buildCNN returns the untrained keyword classifier: input "input"
// [N,1,20,80] (20 log-mel bands x 80 frames of 10 ms) -> (x-mean)/std ->
// Conv(16,3x3)-Relu-MaxPool(2) -> Conv(32,3x3)-Relu-MaxPool(2) ->
// Flatten(32*3*18=1728) -> Dropout(0.3) -> Dense 64-Relu -> Dense classes
// -> "logits". Glorot-uniform kernels (seeded), zero biases; mean and std
// are the training set's, held in Constant nodes.
func buildCNN(seed uint64, classes int, mean, std float32) *graph.Model {
	s := nn.New("speech_cnn", "input", seed, 1, 20, 80)
	s.Normalize(mean, std)
	s.Conv2D(16, 3, "relu").MaxPool(2)
	s.Conv2D(32, 3, "relu").MaxPool(2)
	s.Flatten().Dropout(0.3)
	s.Dense(64, "relu")
	s.Dense(classes, "").Rename("logits")
	return s.Model("onyx models/speech-cnn")
}
