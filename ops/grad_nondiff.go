package ops

// Which default-domain operators carry no gradient, which have no rule
// yet and why, and which rules leave some float inputs without a
// gradient. TestEveryOpHasGradRuleOrIsMarked keeps these lists and
// gradRule in step with the registry: every ai.onnx operator of Default()
// has a rule, is marked here as not differentiable, or is an exception
// listed here with its reason.

// nonDifferentiable lists the ai.onnx operators whose outputs carry no
// gradient, with the reason. gradRule gives them NotDifferentiable, so
// Backward stops gradients there (a parameter whose only path to the loss
// runs through one gets a zero gradient).
var nonDifferentiable = map[string]string{
	// Shapes, sizes, indices and booleans.
	"Shape":              "outputs the input's shape (int64)",
	"Size":               "outputs the input's element count (int64)",
	"ArgMax":             "outputs indices (int64)",
	"ArgMin":             "outputs indices (int64)",
	"NonZero":            "outputs indices (int64)",
	"NonMaxSuppression":  "outputs indices (int64)",
	"Equal":              "outputs booleans",
	"Less":               "outputs booleans",
	"Greater":            "outputs booleans",
	"LessOrEqual":        "outputs booleans",
	"GreaterOrEqual":     "outputs booleans",
	"And":                "boolean logic",
	"Or":                 "boolean logic",
	"Xor":                "boolean logic",
	"Not":                "boolean logic",
	"IsNaN":              "outputs booleans",
	"IsInf":              "outputs booleans",
	"BitShift":           "integer-only operator",
	"BitwiseAnd":         "integer-only operator",
	"BitwiseOr":          "integer-only operator",
	"BitwiseXor":         "integer-only operator",
	"BitwiseNot":         "integer-only operator",
	"SequenceLength":     "outputs a length (int64)",
	"OptionalHasElement": "outputs a boolean",
	// Piecewise-constant functions: their derivative is zero wherever it
	// exists.
	"Floor":   "piecewise constant: zero derivative almost everywhere",
	"Ceil":    "piecewise constant: zero derivative almost everywhere",
	"Round":   "piecewise constant: zero derivative almost everywhere",
	"Sign":    "piecewise constant: zero derivative almost everywhere",
	"Hardmax": "piecewise constant (a one-hot of the argmax): zero derivative almost everywhere",
	// Generators: outputs made from attributes, shapes or integer sizes.
	"Constant":          "no inputs",
	"SequenceEmpty":     "no inputs",
	"ConstantOfShape":   "output depends only on a shape (int64)",
	"EyeLike":           "output depends only on the input's shape",
	"RandomNormal":      "random samples; no inputs",
	"RandomUniform":     "random samples; no inputs",
	"RandomNormalLike":  "random samples; depends only on the input's shape",
	"RandomUniformLike": "random samples; depends only on the input's shape",
	"Multinomial":       "random integer samples",
	"Bernoulli":         "random 0/1 samples",
	"HannWindow":        "generated from an integer size",
	"HammingWindow":     "generated from an integer size",
	"BlackmanWindow":    "generated from an integer size",
	"MelWeightMatrix":   "generated from integer sizes and scalar frequencies (a constant filter bank)",
	"Range": "a generator: its length depends on start, limit and delta, which are " +
		"treated as constants (no gradient flows to start and delta)",
	"OneHot": "selects between the two entries of values by integer indices; values are " +
		"treated as constants (no gradient flows to them)",
	"Unique": "outputs indices and counts; the unique values Y are treated as a " +
		"non-differentiable set operation (no gradient flows to X)",
	// Quantized and integer arithmetic: integer outputs.
	"QuantizeLinear":        "outputs integers (rounding is piecewise constant)",
	"DynamicQuantizeLinear": "outputs integers and a scale computed from min/max for them",
	"ConvInteger":           "integer inputs and outputs",
	"MatMulInteger":         "integer inputs and outputs",
	"QLinearConv":           "outputs quantized integers",
	"QLinearMatMul":         "outputs quantized integers",
	// Strings and bytes.
	"StringNormalizer": "strings",
	"StringConcat":     "strings",
	"StringSplit":      "strings",
	"RegexFullMatch":   "strings",
	"TfIdfVectorizer":  "integer or string inputs (n-gram counts)",
	"ImageDecoder":     "decodes encoded bytes",
}

// gradExceptions lists the ai.onnx operators that are differentiable in
// principle but have no gradient rule, with the reason. Backward fails
// with that reason when a gradient must flow through one of them. It is
// empty now: the control-flow operators (If, Loop, Scan, SequenceMap)
// have rules in grad_control.go and grad_sequence.go, and so have the
// sequence and optional operators (their gradients are sequences and
// optionals).
var gradExceptions = map[string]string{}

// partialGrads notes the rules that leave some float inputs without a
// gradient (they are treated as constants), with the reason.
var partialGrads = map[string]string{
	"Clip":                      "min and max get no gradient",
	"Dropout":                   "ratio gets no gradient (a hyperparameter)",
	"Resize":                    "roi and scales get no gradient (they choose the sampling grid)",
	"Upsample":                  "scales get no gradient (they choose the sampling grid)",
	"RoiAlign":                  "rois get no gradient (box coordinates are treated as constants, as in torchvision and Detectron)",
	"MaxRoiPool":                "rois get no gradient (box coordinates are rounded to pixels)",
	"DequantizeLinear":          "x is integer: only x_scale gets a gradient",
	"SoftmaxCrossEntropyLoss":   "weights are not supported (an error if one is needed)",
	"NegativeLogLikelihoodLoss": "weights are not supported (an error if one is needed)",
}

// isNonDifferentiable reports whether an ai.onnx operator is listed in
// nonDifferentiable.
func isNonDifferentiable(name string) bool {
	_, ok := nonDifferentiable[name]
	return ok
}

// NoGradReason explains why an operator has no gradient: the reason it is
// not differentiable, or why it has no rule yet. It returns "" for the
// operators that have a rule and for unknown ones.
func NoGradReason(domain, name string) string {
	if NormDomain(domain) != "" {
		return ""
	}
	if r, ok := nonDifferentiable[name]; ok {
		return "not differentiable: " + r
	}
	return gradExceptions[name]
}
