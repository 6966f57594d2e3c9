package onnx

import (
	"fmt"
	"os"
	"sort"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx/onnxpb"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"google.golang.org/protobuf/proto"
)

// Encode serializes a model as an ONNX ModelProto. All tensors are stored
// inline.
func Encode(m *graph.Model) ([]byte, error) {
	mp, err := modelToProto(m)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// EncodeFile writes a model to path atomically (write, then rename).
func EncodeFile(path string, m *graph.Model) error {
	data, err := Encode(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func modelToProto(m *graph.Model) (*onnxpb.ModelProto, error) {
	if m.Graph == nil {
		return nil, fmt.Errorf("encode: model has no graph")
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(m.IRVersion),
		ProducerName:    optString(m.ProducerName),
		ProducerVersion: optString(m.ProducerVersion),
		Domain:          optString(m.Domain),
		DocString:       optString(m.Doc),
	}
	if m.ModelVersion != 0 {
		mp.ModelVersion = proto.Int64(m.ModelVersion)
	}
	for _, o := range m.Opsets {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(o.Domain), Version: proto.Int64(o.Version)})
	}
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(m.Metadata[k])})
	}
	g, err := graphToProto(m.Graph)
	if err != nil {
		return nil, err
	}
	mp.Graph = g
	return mp, nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func graphToProto(g *graph.Graph) (*onnxpb.GraphProto, error) {
	gp := &onnxpb.GraphProto{Name: proto.String(g.Name), DocString: optString(g.Doc)}
	names := g.InitializerOrder
	if len(names) != len(g.Initializers) {
		names = names[:0:0]
		for n := range g.Initializers {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		t, ok := g.Initializers[name]
		if !ok {
			return nil, fmt.Errorf("encode: initializer %q listed but missing", name)
		}
		tp, err := tensorToProto(name, t)
		if err != nil {
			return nil, err
		}
		gp.Initializer = append(gp.Initializer, tp)
	}
	gp.Input = valueInfosToProto(g.Inputs)
	gp.Output = valueInfosToProto(g.Outputs)
	gp.ValueInfo = valueInfosToProto(g.ValueInfo)
	for _, n := range g.Nodes {
		np := &onnxpb.NodeProto{
			Name:      optString(n.Name),
			OpType:    proto.String(n.OpType),
			Input:     n.Inputs,
			Output:    n.Outputs,
			DocString: optString(n.Doc),
		}
		if n.Domain != "" {
			np.Domain = proto.String(n.Domain)
		}
		for _, a := range n.Attrs {
			ap, err := attrToProto(a)
			if err != nil {
				return nil, fmt.Errorf("encode: %s: %w", n.Describe(0), err)
			}
			np.Attribute = append(np.Attribute, ap)
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

func attrToProto(a *ops.Attr) (*onnxpb.AttributeProto, error) {
	ap := &onnxpb.AttributeProto{Name: proto.String(a.Name), Type: onnxpb.AttributeProto_AttributeType(a.Type).Enum()}
	switch a.Type {
	case ops.AttrFloat:
		ap.F = proto.Float32(a.Float)
	case ops.AttrInt:
		ap.I = proto.Int64(a.Int)
	case ops.AttrString:
		ap.S = []byte(a.String)
	case ops.AttrTensor:
		tp, err := tensorToProto("", a.Tensor)
		if err != nil {
			return nil, err
		}
		ap.T = tp
	case ops.AttrGraph:
		g, ok := a.Graph.(*graph.Graph)
		if !ok {
			return nil, fmt.Errorf("attribute %q holds %T, not a graph", a.Name, a.Graph)
		}
		gp, err := graphToProto(g)
		if err != nil {
			return nil, err
		}
		ap.G = gp
	case ops.AttrFloats:
		ap.Floats = a.Floats
	case ops.AttrInts:
		ap.Ints = a.Ints
	case ops.AttrStrings:
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case ops.AttrTensors:
		for _, t := range a.Tensors {
			tp, err := tensorToProto("", t)
			if err != nil {
				return nil, err
			}
			ap.Tensors = append(ap.Tensors, tp)
		}
	case ops.AttrGraphs:
		for _, x := range a.Graphs {
			g, ok := x.(*graph.Graph)
			if !ok {
				return nil, fmt.Errorf("attribute %q holds %T, not a graph", a.Name, x)
			}
			gp, err := graphToProto(g)
			if err != nil {
				return nil, err
			}
			ap.Graphs = append(ap.Graphs, gp)
		}
	case ops.AttrTypeProto:
		ap.Tp = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(a.TypeProtoDType))}}}
	default:
		return nil, fmt.Errorf("attribute %q: cannot encode type %v", a.Name, a.Type)
	}
	return ap, nil
}

func valueInfosToProto(vis []graph.ValueInfo) []*onnxpb.ValueInfoProto {
	out := make([]*onnxpb.ValueInfoProto, 0, len(vis))
	for _, vi := range vis {
		out = append(out, &onnxpb.ValueInfoProto{Name: proto.String(vi.Name), Type: typeToProto(vi.Type), DocString: optString(vi.Doc)})
	}
	return out
}

func typeToProto(t graph.Type) *onnxpb.TypeProto {
	elem := func() *onnxpb.TypeProto {
		if t.Elem == nil {
			return nil
		}
		return typeToProto(*t.Elem)
	}
	switch t.Kind {
	case graph.KindTensor:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(t.DType)), Shape: shapeToProto(t.Shape)}}}
	case graph.KindSparseTensor:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SparseTensorType{SparseTensorType: &onnxpb.TypeProto_SparseTensor{ElemType: proto.Int32(int32(t.DType)), Shape: shapeToProto(t.Shape)}}}
	case graph.KindSequence:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{ElemType: elem()}}}
	case graph.KindOptional:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_OptionalType{OptionalType: &onnxpb.TypeProto_Optional{ElemType: elem()}}}
	case graph.KindMap:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_MapType{MapType: &onnxpb.TypeProto_Map{KeyType: proto.Int32(int32(t.KeyType)), ValueType: elem()}}}
	}
	return nil
}

func shapeToProto(s tensor.SymShape) *onnxpb.TensorShapeProto {
	if s == nil {
		return nil
	}
	sp := &onnxpb.TensorShapeProto{}
	for _, d := range s {
		dp := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d.Known():
			dp.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
		case d.Param != "":
			dp.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		}
		sp.Dim = append(sp.Dim, dp)
	}
	return sp
}
