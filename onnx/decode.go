// Package onnx reads and writes ONNX model files: it translates between
// the protobuf schema (package onnxpb, generated from onnx.proto) and the
// graph IR. Quirks of real exporters are handled here so that the rest of
// Onyx sees one clean form: initializers listed as graph inputs, unnamed
// or symbolic dimensions, tensors stored in external files (confined to the
// model's directory) and Constant nodes of every attribute form.
package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx/onnxpb"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"google.golang.org/protobuf/proto"
)

// MaxModelBytes bounds the size of a model file Decode accepts (2 GiB, the
// protobuf limit; larger models keep their weights in external data).
const MaxModelBytes = min(2<<30, math.MaxInt)

// Decode parses a serialized ModelProto. Tensors stored in external data
// files cannot be resolved without a directory: use DecodeFile for those.
func Decode(data []byte) (*graph.Model, error) {
	return decode(data, nil)
}

// DecodeFile reads and parses a model file. External tensor data is read
// from files in the model's directory (or below it); a location that
// leaves the directory is an error.
func DecodeFile(path string) (*graph.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	m, err := decode(data, &externalReader{root: root})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func decode(data []byte, ext *externalReader) (*graph.Model, error) {
	if len(data) > MaxModelBytes {
		return nil, fmt.Errorf("model is %d bytes, more than the %d a protobuf may hold", len(data), MaxModelBytes)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model: %w", err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("not a valid ONNX model: it has no graph")
	}
	m := &graph.Model{
		IRVersion:       mp.GetIrVersion(),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Domain:          mp.GetDomain(),
		ModelVersion:    mp.GetModelVersion(),
		Doc:             mp.GetDocString(),
	}
	for _, o := range mp.OpsetImport {
		m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: o.GetDomain(), Version: o.GetVersion()})
	}
	if len(m.Opsets) == 0 {
		// IR version 1-2 models have no opset_import: they mean opset 1.
		m.Opsets = []graph.OpsetImport{{Domain: "", Version: 1}}
	}
	if len(mp.MetadataProps) > 0 {
		m.Metadata = map[string]string{}
		for _, kv := range mp.MetadataProps {
			m.Metadata[kv.GetKey()] = kv.GetValue()
		}
	}
	d := &decoder{ext: ext}
	g, err := d.graph(mp.Graph, 0)
	if err != nil {
		return nil, err
	}
	m.Graph = g
	return m, nil
}

type decoder struct {
	ext *externalReader
}

// maxGraphDepth bounds subgraph nesting.
const maxGraphDepth = 64

func (d *decoder) graph(gp *onnxpb.GraphProto, depth int) (*graph.Graph, error) {
	if depth > maxGraphDepth {
		return nil, fmt.Errorf("subgraphs nested more than %d deep", maxGraphDepth)
	}
	g := &graph.Graph{Name: gp.GetName(), Doc: gp.GetDocString(), Initializers: map[string]*tensor.Tensor{}}
	where := func() string {
		if g.Name == "" || depth == 0 {
			return ""
		}
		return fmt.Sprintf("subgraph %q: ", g.Name)
	}
	for i, tp := range gp.Initializer {
		t, err := tensorFromProto(tp, d.ext)
		if err != nil {
			return nil, fmt.Errorf("%sinitializer %d: %w", where(), i, err)
		}
		name := tp.GetName()
		if name == "" {
			return nil, fmt.Errorf("%sinitializer %d has no name", where(), i)
		}
		if _, dup := g.Initializers[name]; dup {
			return nil, fmt.Errorf("%sinitializer %q is defined twice", where(), name)
		}
		g.AddInitializer(name, t)
	}
	if len(gp.SparseInitializer) > 0 {
		return nil, fmt.Errorf("%ssparse initializers are not supported", where())
	}
	var err error
	if g.Inputs, err = valueInfos(gp.Input); err != nil {
		return nil, fmt.Errorf("%sgraph input: %w", where(), err)
	}
	if g.Outputs, err = valueInfos(gp.Output); err != nil {
		return nil, fmt.Errorf("%sgraph output: %w", where(), err)
	}
	if g.ValueInfo, err = valueInfos(gp.ValueInfo); err != nil {
		return nil, fmt.Errorf("%svalue info: %w", where(), err)
	}
	for i, np := range gp.Node {
		n := &graph.Node{
			Name:    np.GetName(),
			OpType:  np.GetOpType(),
			Domain:  ops.NormDomain(np.GetDomain()),
			Inputs:  np.Input,
			Outputs: np.Output,
			Doc:     np.GetDocString(),
		}
		if n.OpType == "" {
			return nil, fmt.Errorf("%snode #%d (%q) has no op_type", where(), i, n.Name)
		}
		seen := map[string]bool{}
		for _, ap := range np.Attribute {
			a, err := d.attr(ap, depth)
			if err != nil {
				return nil, fmt.Errorf("%s%s: %w", where(), n.Describe(i), err)
			}
			if seen[a.Name] {
				return nil, fmt.Errorf("%s%s: attribute %q appears twice", where(), n.Describe(i), a.Name)
			}
			seen[a.Name] = true
			n.Attrs = append(n.Attrs, a)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

func (d *decoder) attr(ap *onnxpb.AttributeProto, depth int) (*ops.Attr, error) {
	a := &ops.Attr{Name: ap.GetName(), Type: ops.AttrType(ap.GetType())}
	if a.Name == "" {
		return nil, fmt.Errorf("attribute without a name")
	}
	if ap.GetRefAttrName() != "" {
		return nil, fmt.Errorf("attribute %q refers to function attribute %q outside a function", a.Name, ap.GetRefAttrName())
	}
	if a.Type == ops.AttrUndefined {
		// IR version 1 files have no type field: infer it from the content.
		switch {
		case ap.F != nil:
			a.Type = ops.AttrFloat
		case ap.I != nil:
			a.Type = ops.AttrInt
		case ap.S != nil:
			a.Type = ops.AttrString
		case ap.T != nil:
			a.Type = ops.AttrTensor
		case ap.G != nil:
			a.Type = ops.AttrGraph
		case len(ap.Floats) > 0:
			a.Type = ops.AttrFloats
		case len(ap.Ints) > 0:
			a.Type = ops.AttrInts
		case len(ap.Strings) > 0:
			a.Type = ops.AttrStrings
		case len(ap.Tensors) > 0:
			a.Type = ops.AttrTensors
		case len(ap.Graphs) > 0:
			a.Type = ops.AttrGraphs
		default:
			return nil, fmt.Errorf("attribute %q has no type and no value", a.Name)
		}
	}
	var err error
	switch a.Type {
	case ops.AttrFloat:
		a.Float = ap.GetF()
	case ops.AttrInt:
		a.Int = ap.GetI()
	case ops.AttrString:
		a.String = string(ap.GetS())
	case ops.AttrTensor:
		if ap.T == nil {
			return nil, fmt.Errorf("tensor attribute %q has no tensor", a.Name)
		}
		if a.Tensor, err = tensorFromProto(ap.T, d.ext); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
	case ops.AttrGraph:
		if ap.G == nil {
			return nil, fmt.Errorf("graph attribute %q has no graph", a.Name)
		}
		g, err := d.graph(ap.G, depth+1)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		a.Graph = g
	case ops.AttrFloats:
		a.Floats = ap.Floats
	case ops.AttrInts:
		a.Ints = ap.Ints
	case ops.AttrStrings:
		for _, s := range ap.Strings {
			a.Strings = append(a.Strings, string(s))
		}
	case ops.AttrTensors:
		for _, tp := range ap.Tensors {
			t, err := tensorFromProto(tp, d.ext)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			a.Tensors = append(a.Tensors, t)
		}
	case ops.AttrGraphs:
		for _, gp := range ap.Graphs {
			g, err := d.graph(gp, depth+1)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			a.Graphs = append(a.Graphs, g)
		}
	case ops.AttrTypeProto:
		if tp := ap.GetTp(); tp != nil && tp.GetTensorType() != nil {
			a.TypeProtoDType = tensor.DType(tp.GetTensorType().GetElemType())
		}
	default:
		return nil, fmt.Errorf("attribute %q has unsupported type %v", a.Name, a.Type)
	}
	return a, nil
}

func valueInfos(vps []*onnxpb.ValueInfoProto) ([]graph.ValueInfo, error) {
	out := make([]graph.ValueInfo, 0, len(vps))
	for _, vp := range vps {
		t, err := typeFromProto(vp.Type)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", vp.GetName(), err)
		}
		out = append(out, graph.ValueInfo{Name: vp.GetName(), Type: t, Doc: vp.GetDocString()})
	}
	return out, nil
}

func typeFromProto(tp *onnxpb.TypeProto) (graph.Type, error) {
	if tp == nil {
		return graph.Type{}, nil
	}
	switch {
	case tp.GetTensorType() != nil:
		tt := tp.GetTensorType()
		return graph.Type{Kind: graph.KindTensor, DType: tensor.DType(tt.GetElemType()), Shape: shapeFromProto(tt.Shape)}, nil
	case tp.GetSparseTensorType() != nil:
		tt := tp.GetSparseTensorType()
		return graph.Type{Kind: graph.KindSparseTensor, DType: tensor.DType(tt.GetElemType()), Shape: shapeFromProto(tt.Shape)}, nil
	case tp.GetSequenceType() != nil:
		elem, err := typeFromProto(tp.GetSequenceType().GetElemType())
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Kind: graph.KindSequence, Elem: &elem}, nil
	case tp.GetOptionalType() != nil:
		elem, err := typeFromProto(tp.GetOptionalType().GetElemType())
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Kind: graph.KindOptional, Elem: &elem}, nil
	case tp.GetMapType() != nil:
		elem, err := typeFromProto(tp.GetMapType().GetValueType())
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Kind: graph.KindMap, KeyType: tensor.DType(tp.GetMapType().GetKeyType()), Elem: &elem}, nil
	}
	return graph.Type{}, nil
}

func shapeFromProto(sp *onnxpb.TensorShapeProto) tensor.SymShape {
	if sp == nil {
		return nil
	}
	s := make(tensor.SymShape, len(sp.Dim))
	for i, d := range sp.Dim {
		switch {
		case d.GetDimParam() != "":
			s[i] = tensor.Dim{Size: -1, Param: d.GetDimParam()}
		case d.GetValue() != nil && d.GetDimParam() == "" && d.GetDimValue() >= 0:
			s[i] = tensor.Dim{Size: d.GetDimValue()}
		default:
			s[i] = tensor.Dim{Size: -1}
		}
	}
	return s
}
