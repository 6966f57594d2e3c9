package ops

// The tensor-layout and indexing family: operators that move, select or
// generate elements without arithmetic on them. Implementations live in
// shape.go, transpose.go, concat.go, slice.go, gather.go, scatter.go,
// pad.go and unique.go; shared helpers in tensorops_util.go.

// layoutDefs registers build for each listed opset version of op name.
func layoutDefs(r *Registry, name string, build func(*Builder) (Kernel, error), since ...int) {
	for _, s := range since {
		r.Register(&Def{Name: name, Since: s, Build: build})
	}
}

func registerTensorOps(r *Registry) {
	layoutDefs(r, "Reshape", buildReshape1, 1)
	layoutDefs(r, "Reshape", buildReshape, 5, 13, 14, 19, 21)
	layoutDefs(r, "Flatten", buildFlatten, 1, 9, 11, 13, 21)
	layoutDefs(r, "Squeeze", buildSqueeze, 1, 11, 13, 21)
	layoutDefs(r, "Unsqueeze", buildUnsqueeze, 1, 11, 13, 21)
	layoutDefs(r, "Identity", buildIdentity, 1, 13, 14, 16, 19, 21)
	layoutDefs(r, "Shape", buildShape, 1, 13, 15, 19, 21)
	layoutDefs(r, "Size", buildSize, 1, 13, 19, 21)
	layoutDefs(r, "Constant", buildConstant, 1, 9, 11, 12, 13, 19, 21)
	layoutDefs(r, "ConstantOfShape", buildConstantOfShape, 9, 20, 21)
	layoutDefs(r, "EyeLike", buildEyeLike, 9)
	layoutDefs(r, "Range", buildRange, 11)

	layoutDefs(r, "Transpose", buildTranspose, 1, 13, 21)
	layoutDefs(r, "DepthToSpace", buildDepthToSpace, 1, 11, 13)
	layoutDefs(r, "SpaceToDepth", buildSpaceToDepth, 1, 13)

	layoutDefs(r, "Concat", buildConcat, 1, 4, 11, 13)
	layoutDefs(r, "Split", buildSplit, 1, 2, 11, 13, 18)
	layoutDefs(r, "Tile", buildTile1, 1)
	layoutDefs(r, "Tile", buildTile, 6, 13)
	layoutDefs(r, "Expand", buildExpand, 8, 13)

	layoutDefs(r, "Slice", buildSlice1, 1)
	layoutDefs(r, "Slice", buildSlice, 10, 11, 13)
	layoutDefs(r, "Compress", buildCompress, 9, 11)
	layoutDefs(r, "ReverseSequence", buildReverseSequence, 10)
	layoutDefs(r, "Trilu", buildTrilu, 14)
	layoutDefs(r, "Pad", buildPadAttr, 1, 2)
	layoutDefs(r, "Pad", buildPad, 11, 13, 18, 19, 21)

	layoutDefs(r, "Gather", buildGather, 1, 11, 13)
	layoutDefs(r, "GatherElements", buildGatherElements, 11, 13)
	layoutDefs(r, "GatherND", buildGatherND, 11, 12, 13)
	layoutDefs(r, "OneHot", buildOneHot, 9, 11)
	layoutDefs(r, "ScatterND", buildScatterND, 11, 13, 16, 18)
	layoutDefs(r, "ScatterElements", buildScatterElements, 11, 13, 16, 18)
	layoutDefs(r, "Scatter", buildScatterElements, 9, 11)

	layoutDefs(r, "NonZero", buildNonZero, 9, 13)
	layoutDefs(r, "Unique", buildUnique, 11)
}
