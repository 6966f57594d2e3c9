package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Optional operators: Optional wraps a tensor or sequence (or makes an
// empty optional of a given type), OptionalHasElement tests it and
// OptionalGetElement unwraps it. Optionals are *tensor.Tensor values of
// KindOptional (tensor.NewOptional).

func registerOptional(r *Registry) {
	r.Register(
		&Def{Name: "Optional", Since: 15, Build: buildOptional},
		// Opset 18 lets both ops take plain tensors and sequences (and
		// OptionalHasElement an omitted input); the version-15 kernels
		// accept those too, so both versions share one builder.
		&Def{Name: "OptionalHasElement", Since: 15, Build: buildOptionalHasElement},
		&Def{Name: "OptionalHasElement", Since: 18, Build: buildOptionalHasElement},
		&Def{Name: "OptionalGetElement", Since: 15, Build: buildOptionalGetElement},
		&Def{Name: "OptionalGetElement", Since: 18, Build: buildOptionalGetElement},
	)
}

func buildOptional(b *Builder) (Kernel, error) {
	elem, isSeq := tensor.Undefined, false
	a, hasType := b.Attrs["type"]
	if hasType {
		if a.Type != AttrTypeProto {
			return nil, fmt.Errorf("attribute \"type\" has type %v, want %v", a.Type, AttrTypeProto)
		}
		elem = a.TypeProtoDType
		// The decoder records only a tensor type's element type: an
		// undefined one means the type proto is not a tensor type, which
		// for an Optional can only be a sequence.
		isSeq = elem == tensor.Undefined
	}
	if !b.In(0) && !hasType {
		return nil, fmt.Errorf("an Optional without input needs the \"type\" attribute")
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x := Opt(in, 0)
		if x == nil {
			return rc.Results(tensor.NewOptional(nil, elem, isSeq)), nil
		}
		if x.Kind() == tensor.KindOptional {
			return nil, fmt.Errorf("input must be a tensor or a sequence, got an optional")
		}
		if hasType && elem != tensor.Undefined && x.DType() != elem && !(x.Kind() == tensor.KindSequence && x.DType() == tensor.Undefined) {
			return nil, fmt.Errorf("input of type %v does not match the type attribute's %v", x.DType(), elem)
		}
		return rc.Results(tensor.NewOptional(x.Clone(), elem, isSeq)), nil
	}), nil
}

func buildOptionalHasElement(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x := Opt(in, 0)
		has := false
		switch {
		case x == nil:
		case x.Kind() == tensor.KindOptional:
			_, has = x.OptionalValue()
		default:
			has = true
		}
		return rc.Results(tensor.Scalar(has)), nil
	}), nil
}

func buildOptionalGetElement(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x := Opt(in, 0)
		if x == nil {
			return nil, fmt.Errorf("input is missing")
		}
		if x.Kind() != tensor.KindOptional {
			return rc.Results(x.Clone()), nil
		}
		v, ok := x.OptionalValue()
		if !ok {
			return nil, fmt.Errorf("the optional input is empty")
		}
		return rc.Results(v.Clone()), nil
	}), nil
}
