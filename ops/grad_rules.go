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
	}
	return nil
}
