package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Meta is what shape inference knows of a value before it exists: its
// element type (Undefined when unknown) and its shape (nil when even the
// rank is unknown; dimensions may be symbolic).
type Meta struct {
	DType tensor.DType
	Shape tensor.SymShape
	// Value is the value itself when it is a constant known at compile
	// time (initializers, folded nodes), else nil.
	Value *tensor.Tensor
}

// MetaOf describes a concrete tensor.
func MetaOf(t *tensor.Tensor) Meta {
	return Meta{DType: t.DType(), Shape: SymOf(t.Shape()), Value: t}
}

// SymOf turns a concrete shape into a symbolic one.
func SymOf(shape []int) tensor.SymShape {
	s := make(tensor.SymShape, len(shape))
	for i, d := range shape {
		s[i] = tensor.Dim{Size: int64(d)}
	}
	return s
}

// InferFunc computes the output Metas of a node from its input Metas
// (entries for omitted optional inputs are zero Metas). It returns an
// error only when the inputs certainly do not fit the operator; anything
// it cannot tell is left unknown.
type InferFunc func(b *Builder, in []Meta) ([]Meta, error)

// InferFor returns the shape-inference function of def: its own Infer, or
// the rule its family shares (shapeinfer.go), or nil.
func InferFor(def *Def) InferFunc {
	if def.Infer != nil {
		return def.Infer
	}
	if NormDomain(def.Domain) == "" {
		return shapeRule(def.Name)
	}
	return nil
}

// unknownDim is a dimension of unknown size.
var unknownDim = tensor.Dim{Size: -1}

// broadcastSym broadcasts symbolic shapes; nil when a rank is unknown.
func broadcastSym(shapes ...tensor.SymShape) (tensor.SymShape, error) {
	rank := 0
	for _, s := range shapes {
		if s == nil {
			return nil, nil
		}
		rank = max(rank, len(s))
	}
	out := make(tensor.SymShape, rank)
	for i := range out {
		out[i] = tensor.Dim{Size: 1}
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d.Known() && d.Size == 1:
			case o.Known() && o.Size == 1:
				*o = d
			case d.Known() && o.Known():
				if d.Size != o.Size {
					return nil, fmt.Errorf("shapes %v are not broadcastable (dimension %d: %d vs %d)", shapes, off+i, o.Size, d.Size)
				}
			case d.Param != "" && d.Param == o.Param:
			case d.Known():
				*o = d // a symbolic dim that broadcasts must equal the known one
			case o.Known():
			default:
				*o = unknownDim
			}
		}
	}
	return out, nil
}
