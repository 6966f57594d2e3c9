package train_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

// TestGradControlSuiteModels differentiates the control-flow and sequence
// models of the ONNX backend suite (as exported there, with their declared
// subgraph types) with respect to their float tensor inputs, which become
// initializers holding test_data_set_0's values (the other inputs become
// constants), and checks the gradients against finite differences. The
// loss is Σ ReduceSum(Sin(·)) over the output tensors and the elements of
// the output sequences.
func TestGradControlSuiteModels(t *testing.T) {
	const root = "/usr/share/libonnx-testdata/data/node"
	if _, err := os.Stat(root); err != nil {
		t.Skip("ONNX backend suite not installed")
	}
	for _, name := range []string{
		"test_loop11", "test_scan9_sum", "test_scan_sum",
		"test_sequence_map_add_1_sequence_1_tensor", "test_sequence_map_add_1_sequence_1_tensor_expanded",
		"test_sequence_map_identity_1_sequence_1_tensor", "test_sequence_map_identity_1_sequence_1_tensor_expanded",
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			g := m.Graph
			var wrt []string
			var inputs []graph.ValueInfo
			for i, in := range g.Inputs {
				data, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
				if err != nil {
					t.Fatal(err)
				}
				_, v, err := onnx.DecodeValue(data, in.Type)
				if err != nil {
					t.Fatal(err)
				}
				if v.Kind() == tensor.KindTensor && v.DType().IsFloat() {
					if v, err = v.Cast(tensor.Float64); err != nil {
						t.Fatal(err)
					}
					wrt = append(wrt, in.Name)
				}
				g.AddInitializer(in.Name, v)
			}
			g.Inputs = inputs
			if len(wrt) == 0 {
				t.Fatal("no float input")
			}
			// The suite's models are float32: make every float32 constant
			// and declared type float64, so that the check runs in float64.
			toF64(g)
			var terms []string
			term := func(v string) {
				s, r := "sin_"+v, "red_"+v
				g.Nodes = append(g.Nodes, nd("Sin", ss(v), ss(s)), nd("ReduceSum", ss(s), ss(r), ops.IntAttr("keepdims", 0)))
				terms = append(terms, r)
			}
			for j, o := range g.Outputs {
				if o.Type.Kind != graph.KindSequence {
					term(o.Name)
					continue
				}
				data, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("output_%d.pb", j)))
				if err != nil {
					t.Fatal(err)
				}
				_, want, err := onnx.DecodeValue(data, o.Type)
				if err != nil {
					t.Fatal(err)
				}
				for k := range want.Elems() {
					pos, at := fmt.Sprintf("pos_%d_%d", j, k), fmt.Sprintf("at_%d_%d", j, k)
					g.AddInitializer(pos, tensor.Scalar(int64(k)))
					g.Nodes = append(g.Nodes, nd("SequenceAt", ss(o.Name, pos), ss(at)))
					term(at)
				}
			}
			g.Nodes = append(g.Nodes, nd("Sum", terms, ss("loss")))
			g.Outputs = []graph.ValueInfo{{Name: "loss", Type: f64T()}}
			var st train.GradCheckStats
			if err := train.CheckModelGradient(m, "loss", wrt, train.GradCheckOptions{Stats: &st}); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrt %v: %d gradient elements, max abs error %.2e", wrt, st.Checked, st.MaxAbsErr)
		})
	}
}

// toF64 turns the float32 initializers, Constant values and declared
// types of g and its subgraphs into float64.
func toF64(g *graph.Graph) {
	for name, v := range g.Initializers {
		if v.Kind() == tensor.KindTensor && v.DType() == tensor.Float32 {
			g.Initializers[name], _ = v.Cast(tensor.Float64)
		}
		if v.Kind() == tensor.KindSequence && v.DType() == tensor.Float32 {
			elems := make([]*tensor.Tensor, len(v.Elems()))
			for i, e := range v.Elems() {
				elems[i], _ = e.Cast(tensor.Float64)
			}
			g.Initializers[name] = tensor.NewSequence(tensor.Float64, elems)
		}
	}
	fix := func(list []graph.ValueInfo) {
		for i := range list {
			for t := &list[i].Type; t != nil; t = t.Elem {
				if t.DType == tensor.Float32 {
					t.DType = tensor.Float64
				}
			}
		}
	}
	fix(g.Inputs)
	fix(g.Outputs)
	fix(g.ValueInfo)
	for _, n := range g.Nodes {
		for _, a := range n.Attrs {
			if a.Tensor != nil && a.Tensor.DType() == tensor.Float32 {
				a.Tensor, _ = a.Tensor.Cast(tensor.Float64)
			}
			if (a.Name == "to" && n.OpType == "Cast" || a.Name == "dtype") && a.Type == ops.AttrInt && a.Int == int64(tensor.Float32) {
				a.Int = int64(tensor.Float64)
			}
		}
		for _, sg := range n.Subgraphs() {
			toF64(sg)
		}
	}
}
