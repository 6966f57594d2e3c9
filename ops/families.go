package ops

// families lists the register function of every operator family, each
// defined in its own file. The list is read only.
var families = []func(*Registry){
	registerElementwise, // elementwise.go and friends: math, logic, activations, softmax, cast
	registerNN,          // conv.go, pool.go, norm.go, gemm.go
	registerTensorOps,   // shape.go, gather.go, slice.go, ...: layout and indexing
	registerReduce,      // reduce.go and friends: reductions, arg/topk, cumsum, resize
	registerRecurrent,   // recurrent.go: RNN, GRU, LSTM
	registerControlFlow, // controlflow.go: If, Loop, Scan
	registerSequence,    // sequence.go: Sequence*, SplitToSequence, ConcatFromSequence, SequenceMap
	registerOptional,    // optional.go: Optional, OptionalHasElement, OptionalGetElement
	registerStrings,     // strings.go: StringNormalizer
	registerLoss,        // loss.go: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
	registerQuantize,    // quantize.go: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul, QLinearConv
	registerSignal,      // signal.go: DFT, STFT, Hann/Hamming/BlackmanWindow, MelWeightMatrix
	registerRandom,      // random.go: RandomNormal(Like), RandomUniform(Like), Multinomial, Bernoulli
	registerText,        // textvec.go: TfIdfVectorizer, RegexFullMatch, StringConcat, StringSplit
	registerVision,      // vision.go: NonMaxSuppression, GridSample, AffineGrid, Col2Im, CenterCropPad, GroupNormalization
	registerDeformConv,  // deformconv.go: DeformConv
	registerOptimizer,   // optimizer.go: Adagrad, Adam, Momentum (ai.onnx.preview.training)
	// grad_kernels.go: SumToShape, UnaryGrad, MatMulGrad, GemmGrad, SoftmaxGrad, ... (ai.onyx.training)
	registerGradKernels,
	// grad_recurrent.go: RNNGrad, GRUGrad, LSTMGrad (ai.onyx.training)
	registerGradRecurrent,
	// grad_nn_kernels.go, grad_shape.go: ConvGrad, MaxPoolGrad, BatchNormGrad, GatherGrad, ... (ai.onyx.training)
	registerGradNNKernels,
	// grad_register.go: the kernels of grad_activation.go, grad_reduce.go, grad_norm.go, grad_pool.go,
	// grad_index.go, grad_resize.go, grad_vision.go, grad_signal.go (ai.onyx.training)
	registerGradOpKernels,
}
