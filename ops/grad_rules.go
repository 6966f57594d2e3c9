package ops

// gradRule returns the gradient rule shared by the versions of an
// operator, or nil when none is written yet.
func gradRule(domain, name string) GradFunc {
	if domain != "" {
		return nil
	}
	switch name {
	case "Shape", "Size", "ArgMax", "ArgMin", "Equal", "Less", "Greater", "LessOrEqual",
		"GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf", "NonZero", "OneHot",
		"ConstantOfShape", "EyeLike", "Range", "RandomNormal", "RandomUniform",
		"RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Floor", "Ceil",
		"Round", "Sign", "NonMaxSuppression", "BitShift", "BitwiseAnd",
		"BitwiseOr", "BitwiseXor", "BitwiseNot", "Unique", "StringNormalizer",
		"TfIdfVectorizer", "RegexFullMatch", "StringConcat", "StringSplit", "Constant",
		"QuantizeLinear", "DynamicQuantizeLinear", "HannWindow", "HammingWindow",
		"BlackmanWindow", "MelWeightMatrix":
		return NotDifferentiable
	case "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Identity", "Cast", "Sum", "Mean", "Max",
		"Min", "Where", "Clip", "Exp", "Log", "Sqrt", "Reciprocal", "Relu", "LeakyRelu",
		"Sigmoid", "Tanh", "Softplus", "Elu", "Abs":
		return gradElementwise(name) // grad_elementwise.go
	case "MatMul", "Gemm", "ReduceSum", "ReduceMean", "Reshape", "Flatten", "Squeeze",
		"Unsqueeze", "Transpose", "Concat", "Softmax", "LogSoftmax", "SoftmaxCrossEntropyLoss",
		"NegativeLogLikelihoodLoss":
		return gradLinear(name) // grad_linear.go
	case "RNN":
		return recurrentGrad(kindRNN)
	case "GRU":
		return recurrentGrad(kindGRU)
	case "LSTM":
		return recurrentGrad(kindLSTM)
	case "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
		"BatchNormalization", "LayerNormalization", "Dropout":
		return gradNN(name) // grad_nn.go
	case "Gather", "Slice", "Pad", "Expand", "Tile", "Split":
		return gradLayout(name) // grad_shape.go
	case "Celu", "Selu", "Softsign", "HardSigmoid", "HardSwish", "Mish", "Gelu", "ThresholdedRelu",
		"Shrink", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
		"Acosh", "Atanh", "PRelu", "CastLike", "Mod":
		return gradActivation(name) // grad_activation.go
	case "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMin",
		"ReduceProd", "ReduceSumSquare", "CumSum", "TopK", "Einsum", "Det":
		return gradReduceOp(name) // grad_reduce.go
	case "InstanceNormalization", "GroupNormalization", "LRN", "LpNormalization",
		"MeanVarianceNormalization":
		return gradNorm(name) // grad_norm.go
	case "LpPool", "GlobalLpPool", "MaxRoiPool", "RoiAlign", "MaxUnpool":
		return gradPool(name) // grad_pool.go
	case "GatherElements", "GatherND", "ScatterElements", "Scatter", "ScatterND", "Compress",
		"ReverseSequence", "Trilu", "DepthToSpace", "SpaceToDepth", "CenterCropPad", "Col2Im":
		return gradIndex(name) // grad_index.go
	case "Resize", "Upsample":
		return gradResize(name) // grad_resize.go
	case "GridSample", "AffineGrid", "DeformConv":
		return gradVision(name) // grad_vision.go
	case "DFT", "STFT":
		return gradSignal(name) // grad_signal.go
	case "DequantizeLinear":
		return gradDequantize // grad_signal.go
	case "If", "Loop", "Scan":
		return gradControl(name) // grad_control.go
	case "SequenceConstruct", "SequenceAt", "SequenceInsert", "SequenceErase", "SplitToSequence",
		"ConcatFromSequence", "Optional", "OptionalGetElement", "SequenceMap":
		return gradSequence(name) // grad_sequence.go
	}
	if isNonDifferentiable(name) { // grad_nondiff.go
		return NotDifferentiable
	}
	return nil
}
