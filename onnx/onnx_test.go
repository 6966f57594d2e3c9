package onnx_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/onnx/onnxpb"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func sharedModels(t *testing.T) []string {
	m, _ := filepath.Glob("../../shared/models/*/*/model.onnx")
	if len(m) == 0 {
		t.Skip("../shared/models is not present")
	}
	return m
}

// TestRoundTrip decodes real exported models, encodes them back and checks
// that nothing was lost: a second decode gives the same graph and a second
// encode the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, path := range sharedModels(t) {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			m1, err := onnx.DecodeFile(path)
			require.NoError(t, err)
			b1, err := onnx.Encode(m1)
			require.NoError(t, err)
			m2, err := onnx.Decode(b1)
			require.NoError(t, err)
			b2, err := onnx.Encode(m2)
			require.NoError(t, err)
			assert.Equal(t, b1, b2)
			assert.Equal(t, m1.Opsets, m2.Opsets)
			assert.Equal(t, m1.ProducerName, m2.ProducerName)
			assert.Equal(t, len(m1.Graph.Nodes), len(m2.Graph.Nodes))
			assert.Equal(t, m1.Graph.Inputs, m2.Graph.Inputs)
			assert.Equal(t, m1.Graph.Outputs, m2.Graph.Outputs)
			require.Equal(t, m1.Graph.InitializerOrder, m2.Graph.InitializerOrder)
			for name, a := range m1.Graph.Initializers {
				b := m2.Graph.Initializers[name]
				assert.Equal(t, a.Shape(), b.Shape(), name)
				assert.Equal(t, a.Data(), b.Data(), name)
			}
		})
	}
}

func TestTensorRoundTripAllTypes(t *testing.T) {
	tests := []*tensor.Tensor{
		tensor.From([]int{2}, []float32{1.5, float32(math.Inf(-1))}),
		tensor.From([]int{1, 2}, []float64{-2, 3e300}),
		tensor.From([]int{2}, []tensor.Half{tensor.HalfFrom(1.5), tensor.HalfFrom(-0.25)}),
		tensor.From([]int{1}, []tensor.BF16{tensor.BF16From(3)}),
		tensor.From([]int{3}, []int8{-128, 0, 127}),
		tensor.From([]int{2}, []int16{-300, 300}),
		tensor.From([]int{2}, []int32{-1 << 31, 1<<31 - 1}),
		tensor.From([]int{2}, []int64{-1 << 63, 1<<63 - 1}),
		tensor.From([]int{2}, []uint8{0, 255}),
		tensor.From([]int{2}, []uint16{0, 65535}),
		tensor.From([]int{2}, []uint32{0, 1<<32 - 1}),
		tensor.From([]int{2}, []uint64{0, 1<<64 - 1}),
		tensor.From([]int{2}, []bool{true, false}),
		tensor.From([]int{2}, []string{"a", "héllo"}),
		tensor.From(nil, []float32{7}),
		tensor.From([]int{0, 3}, []float32{}),
	}
	for _, want := range tests {
		t.Run(want.DType().String(), func(t *testing.T) {
			b, err := onnx.EncodeTensor("v", want)
			require.NoError(t, err)
			name, got, err := onnx.DecodeTensor(b)
			require.NoError(t, err)
			assert.Equal(t, "v", name)
			assert.Equal(t, want.Shape(), got.Shape())
			assert.Equal(t, want.Data(), got.Data())
		})
	}
}

// TestTypedFields decodes tensors that exporters write in the typed
// repeated fields rather than raw_data.
func TestTypedFields(t *testing.T) {
	tp := &onnxpb.TensorProto{DataType: proto.Int32(int32(tensor.Float16)), Dims: []int64{2}, Int32Data: []int32{int32(tensor.HalfFrom(2)), int32(tensor.HalfFrom(-1))}}
	b, _ := proto.Marshal(tp)
	_, got, err := onnx.DecodeTensor(b)
	require.NoError(t, err)
	assert.Equal(t, []float64{2, -1}, got.Float64s())

	tp = &onnxpb.TensorProto{DataType: proto.Int32(int32(tensor.Uint32)), Dims: []int64{1}, Uint64Data: []uint64{4000000000}}
	b, _ = proto.Marshal(tp)
	_, got, err = onnx.DecodeTensor(b)
	require.NoError(t, err)
	assert.Equal(t, []uint32{4000000000}, tensor.Data[uint32](got))
}

func TestBadTensors(t *testing.T) {
	tests := []struct {
		name string
		tp   *onnxpb.TensorProto
		want string
	}{
		{"short raw data", &onnxpb.TensorProto{DataType: proto.Int32(1), Dims: []int64{4}, RawData: []byte{1, 2, 3}}, "raw data has 3 bytes"},
		{"count mismatch", &onnxpb.TensorProto{DataType: proto.Int32(1), Dims: []int64{3}, FloatData: []float32{1}}, "needs 3 values"},
		{"negative dim", &onnxpb.TensorProto{DataType: proto.Int32(1), Dims: []int64{-2}}, "invalid dimension"},
		{"absurd size", &onnxpb.TensorProto{DataType: proto.Int32(1), Dims: []int64{1 << 20, 1 << 20, 1 << 20}}, "too large"},
		{"unknown type", &onnxpb.TensorProto{DataType: proto.Int32(99), Dims: []int64{1}}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := proto.Marshal(tc.tp)
			_, _, err := onnx.DecodeTensor(b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBadModels(t *testing.T) {
	good, err := onnx.Encode(tinyModel(t))
	require.NoError(t, err)
	_, err = onnx.Decode(good)
	require.NoError(t, err)
	for _, n := range []int{1, len(good) / 3, len(good) - 1} {
		_, err := onnx.Decode(good[:n])
		assert.Error(t, err, "truncated to %d bytes", n)
	}
	_, err = onnx.Decode([]byte("this is not a model"))
	assert.Error(t, err)
	_, err = onnx.Decode(nil)
	assert.ErrorContains(t, err, "no graph")
}

func tinyModel(t *testing.T) *graph.Model {
	t.Helper()
	g := &graph.Graph{
		Name:    "tiny",
		Inputs:  []graph.ValueInfo{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 2}}}}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: -1}, {Size: 2}}}}},
		Nodes: []*graph.Node{{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"y"},
			Attrs: []*ops.Attr{{Name: "note", Type: ops.AttrString, String: "kept"}}}},
	}
	g.AddInitializer("w", tensor.From([]int{2}, []float32{1, 2}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 13}}, ProducerName: "onyx-test", Graph: g}
}

// externalModel writes a model whose initializer "w" lives in a separate
// file at location.
func externalModel(t *testing.T, dir, location string) string {
	t.Helper()
	m := tinyModel(t)
	b, err := onnx.Encode(m)
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	w := mp.Graph.Initializer[0]
	w.RawData = nil
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*onnxpb.StringStringEntryProto{
		{Key: proto.String("location"), Value: proto.String(location)},
		{Key: proto.String("offset"), Value: proto.String("4")},
		{Key: proto.String("length"), Value: proto.String("8")},
	}
	b, err = proto.Marshal(&mp)
	require.NoError(t, err)
	path := filepath.Join(dir, "model.onnx")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 12)
	binary.LittleEndian.PutUint32(data[4:], math.Float32bits(5))
	binary.LittleEndian.PutUint32(data[8:], math.Float32bits(6))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "weights.bin"), data, 0o644))

	m, err := onnx.DecodeFile(externalModel(t, dir, "weights.bin"))
	require.NoError(t, err)
	assert.Equal(t, []float32{5, 6}, m.Graph.Initializers["w"].Float32s())

	// Locations that leave the model's folder are refused.
	for _, loc := range []string{"../weights.bin", "/etc/passwd", "sub/../../x"} {
		_, err := onnx.DecodeFile(externalModel(t, dir, loc))
		assert.Error(t, err, loc)
	}
	// Without a folder there is nothing to read from.
	b, _ := os.ReadFile(externalModel(t, dir, "weights.bin"))
	_, err = onnx.Decode(b)
	assert.ErrorContains(t, err, "external")
}

func TestUnnamedAndSymbolicDims(t *testing.T) {
	b, err := onnx.Encode(tinyModel(t))
	require.NoError(t, err)
	m, err := onnx.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, "[N 2]", m.Graph.Inputs[0].Type.Shape.String())
	assert.Equal(t, "[? 2]", m.Graph.Outputs[0].Type.Shape.String())
	assert.Equal(t, "kept", m.Graph.Nodes[0].Attr("note").String)
}
