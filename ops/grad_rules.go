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
	}
	return nil
}
