package onnx

import (
	"fmt"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx/onnxpb"
	"github.com/onyxrt/onyx/tensor"
	"google.golang.org/protobuf/proto"
)

// DecodeValue parses a serialized value of type typ: a TensorProto for
// tensors (and unknown types), a SequenceProto for sequences, an
// OptionalProto for optionals. It returns the value's name.
func DecodeValue(data []byte, typ graph.Type) (string, *tensor.Tensor, error) {
	switch typ.Kind {
	case graph.KindSequence:
		var sp onnxpb.SequenceProto
		if err := proto.Unmarshal(data, &sp); err != nil {
			return "", nil, fmt.Errorf("decode sequence: %w", err)
		}
		v, err := sequenceFromProto(&sp, typ)
		return sp.GetName(), v, err
	case graph.KindOptional:
		var op onnxpb.OptionalProto
		if err := proto.Unmarshal(data, &op); err != nil {
			return "", nil, fmt.Errorf("decode optional: %w", err)
		}
		v, err := optionalFromProto(&op, typ)
		return op.GetName(), v, err
	}
	return DecodeTensor(data)
}

func elemDType(typ *graph.Type) tensor.DType {
	for typ != nil {
		if typ.Kind == graph.KindTensor {
			return typ.DType
		}
		typ = typ.Elem
	}
	return tensor.Undefined
}

func sequenceFromProto(sp *onnxpb.SequenceProto, typ graph.Type) (*tensor.Tensor, error) {
	if len(sp.SequenceValues)+len(sp.MapValues)+len(sp.OptionalValues)+len(sp.SparseTensorValues) > 0 {
		return nil, fmt.Errorf("sequence %q: only sequences of tensors are supported", sp.GetName())
	}
	elems := make([]*tensor.Tensor, len(sp.TensorValues))
	dt := elemDType(typ.Elem)
	for i, tp := range sp.TensorValues {
		t, err := tensorFromProto(tp, nil)
		if err != nil {
			return nil, fmt.Errorf("sequence %q element %d: %w", sp.GetName(), i, err)
		}
		elems[i] = t
		dt = t.DType()
	}
	return tensor.NewSequence(dt, elems), nil
}

func optionalFromProto(op *onnxpb.OptionalProto, typ graph.Type) (*tensor.Tensor, error) {
	elemIsSeq := typ.Elem != nil && typ.Elem.Kind == graph.KindSequence
	switch {
	case op.TensorValue != nil:
		t, err := tensorFromProto(op.TensorValue, nil)
		if err != nil {
			return nil, fmt.Errorf("optional %q: %w", op.GetName(), err)
		}
		return tensor.NewOptional(t, t.DType(), false), nil
	case op.SequenceValue != nil:
		var et graph.Type
		if typ.Elem != nil {
			et = *typ.Elem
		}
		s, err := sequenceFromProto(op.SequenceValue, et)
		if err != nil {
			return nil, err
		}
		return tensor.NewOptional(s, s.DType(), true), nil
	case op.MapValue != nil || op.OptionalValue != nil || op.SparseTensorValue != nil:
		return nil, fmt.Errorf("optional %q: only optional tensors and sequences are supported", op.GetName())
	}
	return tensor.NewOptional(nil, elemDType(typ.Elem), elemIsSeq), nil
}
