package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// ---- fixtures ---------------------------------------------------------

// dims builds a symbolic shape: ints are sizes, strings are parameters.
func dims(ds ...any) tensor.SymShape {
	s := make(tensor.SymShape, len(ds))
	for i, d := range ds {
		switch v := d.(type) {
		case int:
			s[i] = tensor.Dim{Size: int64(v)}
		case string:
			s[i] = tensor.Dim{Size: -1, Param: v}
		}
	}
	return s
}

func tv(name string, dt tensor.DType, shape tensor.SymShape) graph.ValueInfo {
	return graph.ValueInfo{Name: name, Type: graph.Type{Kind: graph.KindTensor, DType: dt, Shape: shape}}
}

// model wraps nodes into an opset-13 model.
func model(inputs, outputs []graph.ValueInfo, nodes ...*graph.Node) *graph.Model {
	return &graph.Model{
		IRVersion:       8,
		Opsets:          []graph.OpsetImport{{Domain: "", Version: 13}},
		ProducerName:    "onyx-test",
		ProducerVersion: "0.1",
		Graph: &graph.Graph{
			Name: "g", Inputs: inputs, Outputs: outputs, Nodes: nodes,
			Initializers: map[string]*tensor.Tensor{},
		},
	}
}

func writeModel(t *testing.T, m *graph.Model) string {
	t.Helper()
	data, err := onnx.Encode(m)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "model.onnx")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// addModel: sum = a + b, both float32 [N 3].
func addModel(t *testing.T) string {
	return writeModel(t, model(
		[]graph.ValueInfo{tv("a", tensor.Float32, dims("N", 3)), tv("b", tensor.Float32, dims("N", 3))},
		[]graph.ValueInfo{tv("sum", tensor.Float32, dims("N", 3))},
		&graph.Node{Name: "add", OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"sum"}},
	))
}

// classifierModel: probs = Softmax(x + bias), x float32 [1 4], with a
// zero bias initializer (4 parameters).
func classifierModel(t *testing.T) string {
	m := model(
		[]graph.ValueInfo{tv("x", tensor.Float32, dims(1, 4))},
		[]graph.ValueInfo{tv("probs", tensor.Float32, dims(1, 4))},
		&graph.Node{Name: "bias", OpType: "Add", Inputs: []string{"x", "bias"}, Outputs: []string{"logits"}},
		&graph.Node{Name: "softmax", OpType: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probs"},
			Attrs: []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: -1}}},
	)
	m.Graph.AddInitializer("bias", tensor.From([]int{4}, []float32{0, 0, 0, 0}))
	return writeModel(t, m)
}

// identityModel passes one input of the given type through.
func identityModel(t *testing.T, in graph.ValueInfo) string {
	out := in
	out.Name = "out"
	return writeModel(t, model([]graph.ValueInfo{in}, []graph.ValueInfo{out},
		&graph.Node{OpType: "Identity", Inputs: []string{in.Name}, Outputs: []string{"out"}}))
}

// npyBytes encodes a .npy file by hand.
func npyBytes(version byte, descr string, fortran bool, shape string, data []byte) []byte {
	f := "False"
	if fortran {
		f = "True"
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, f, shape)
	prefix := 10
	if version > 1 {
		prefix = 12
	}
	pad := 64 - (prefix+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.WriteByte(version)
	b.WriteByte(0)
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32le(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func writeNPY(t *testing.T, dir, name, shape string, v ...float32) string {
	return writeFile(t, dir, name, npyBytes(1, "<f4", false, shape, f32le(v...)))
}

func writePNG(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return writeFile(t, dir, name, b.Bytes())
}

// invoke runs the CLI, failing the test if a panic escapes.
func invoke(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	require.NotPanics(t, func() { code = run(args, &out, &errb) })
	return code, out.String(), errb.String()
}

// ---- run ----------------------------------------------------------------

func TestRun(t *testing.T) {
	dir := t.TempDir()
	add := addModel(t)
	cls := classifierModel(t)
	a := writeNPY(t, dir, "a.npy", "(1, 3)", 1, 2, 3)
	b := writeNPY(t, dir, "b.npy", "(1, 3)", 10, 20, 30)
	a2 := writeNPY(t, dir, "a2.npy", "(2, 3)", 1, 2, 3, 4, 5, 6)
	wrongRank := writeNPY(t, dir, "r.npy", "(3,)", 1, 2, 3)
	f64 := writeFile(t, dir, "f64.npy", npyBytes(1, "<f8", false, "(1, 3)", func() []byte {
		out := make([]byte, 24)
		for i, v := range []float64{0.5, 1.5, 2.5} {
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(v))
		}
		return out
	}()))
	pbData, err := onnx.EncodeTensor("", tensor.From([]int{1, 3}, []float32{7, 8, 9}))
	require.NoError(t, err)
	pb := writeFile(t, dir, "b.pb", pbData)
	x := writeNPY(t, dir, "x.npy", "(1, 4)", 1, 3, 2, 0)
	corrupt := writeFile(t, dir, "corrupt.onnx", []byte("this is not a protobuf \x00\xff\x13"))
	truncated := writeFile(t, dir, "trunc.npy", npyBytes(1, "<f4", false, "(1, 3)", f32le(1, 2)))

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // substrings expected on stdout
		stderr  []string // substrings expected on stderr
		without []string // substrings that must not be on stdout
	}{
		{"positional npy", []string{"run", add, a, b}, 0, []string{"sum: float32 [1 3]", "[[11 22 33]]"}, nil, nil},
		{"named inputs", []string{"run", add, "b=" + b, "a=" + a}, 0, []string{"[[11 22 33]]"}, nil, nil},
		{"named then positional", []string{"run", add, "b=" + b, a}, 0, []string{"[[11 22 33]]"}, nil, nil},
		{"flags after args", []string{"run", add, a, "--full", b}, 0, []string{"[[11 22 33]]"}, nil, nil},
		{"pb input", []string{"run", add, a, pb}, 0, []string{"[[ 8 10 12]]"}, nil, nil},
		{"float64 npy converted", []string{"run", add, f64, a}, 0, []string{"[[1.5 3.5 5.5]]"}, []string{"converted float64 to float32"}, nil},
		{"batch of two", []string{"run", add, a2, a2}, 0, []string{"sum: float32 [2 3]", "[[ 2  4  6]\n [ 8 10 12]]"}, nil, nil},
		{"random", []string{"run", "--random", "--dim", "N=2", add}, 0, []string{"sum: float32 [2 3]"}, nil, nil},
		{"random fills the rest", []string{"run", "--random", add, a}, 0, []string{"sum: float32 [1 3]"}, nil, nil},
		{"argmax by default", []string{"run", cls, x}, 0, []string{"probs: float32 [1 4]", "class 1 (score 0.64"}, nil, nil},
		{"argmax of each row", []string{"run", "--random", "--dim", "N=3", add}, 0, []string{"classes (argmax of each row): "}, nil, nil},
		{"top k", []string{"run", "--top", "2", cls, x}, 0, []string{"top 2:\n      1  0.64", "\n      2  0.23"}, nil, []string{"class 1"}},

		{"no args", []string{"run"}, 2, nil, []string{"no MODEL"}, nil},
		{"help", []string{"run", "-h"}, 0, nil, []string{"usage: infer run", "examples:"}, nil},
		{"unknown flag", []string{"run", "--nope", add}, 2, nil, []string{"flag provided but not defined"}, nil},
		{"bad layout", []string{"run", "--layout", "chw", add}, 2, nil, []string{"--layout"}, nil},
		{"bad scale", []string{"run", "--scale", "1/0", add}, 2, nil, []string{"--scale"}, nil},
		{"bad dim", []string{"run", "--dim", "N", add}, 2, nil, []string{"NAME=VALUE"}, nil},
		{"missing inputs", []string{"run", add, a}, 2, nil, []string{`no value for input(s) b`}, nil},
		{"too many inputs", []string{"run", add, a, b, b}, 2, nil, []string{"too many inputs"}, nil},
		{"unknown input name", []string{"run", add, "c=" + a}, 2, nil, []string{"inputs: a, b"}, nil},

		{"missing model", []string{"run", filepath.Join(dir, "nope.onnx")}, 1, nil, []string{"no such file"}, nil},
		{"corrupt model", []string{"run", corrupt, a}, 1, nil, []string{"not a valid ONNX model"}, nil},
		{"model is a folder", []string{"run", dir}, 1, nil, []string{"is a folder"}, nil},
		{"missing input file", []string{"run", add, a, filepath.Join(dir, "missing.npy")}, 1, nil, []string{"missing.npy", "no such file"}, nil},
		{"wrong shape", []string{"run", cls, a}, 1, nil, []string{`input "x" has shape [1 3], the model wants [1 4]`}, nil},
		{"wrong rank", []string{"run", add, a, wrongRank}, 1, nil, []string{`input "b" has shape [3]`}, nil},
		{"truncated npy", []string{"run", add, a, truncated}, 1, nil, []string{"truncated"}, nil},
		{"unknown format", []string{"run", add, a, corrupt}, 1, nil, []string{"unknown input format"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, tc.args...)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, stderr, s)
			}
			for _, s := range tc.without {
				assert.NotContains(t, stdout, s)
			}
			if code != 0 {
				assert.NotContains(t, stderr, "internal error")
			}
		})
	}
}

type runResult struct {
	Outputs []struct {
		Name  string    `json:"name"`
		DType string    `json:"dtype"`
		Shape []int     `json:"shape"`
		Data  []float64 `json:"data"`
		Top   []struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
		} `json:"top"`
	} `json:"outputs"`
	TimeMS *float64 `json:"time_ms"`
}

func TestRunJSON(t *testing.T) {
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", "(2, 3)", 1, 2, 3, 4, 5, 6)
	code, stdout, stderr := invoke(t, "run", "--json", addModel(t), a, a)
	require.Equal(t, 0, code, stderr)
	var res runResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Len(t, res.Outputs, 1)
	o := res.Outputs[0]
	assert.Equal(t, "sum", o.Name)
	assert.Equal(t, "float32", o.DType)
	assert.Equal(t, []int{2, 3}, o.Shape)
	assert.Equal(t, []float64{2, 4, 6, 8, 10, 12}, o.Data)
	require.NotNil(t, res.TimeMS)
	assert.GreaterOrEqual(t, *res.TimeMS, 0.0)

	x := writeNPY(t, dir, "x.npy", "(1, 4)", 1, 3, 2, 0)
	code, stdout, stderr = invoke(t, "run", "--json", "--top", "3", classifierModel(t), x)
	require.Equal(t, 0, code, stderr)
	res = runResult{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	top := res.Outputs[0].Top
	require.Len(t, top, 3)
	assert.Equal(t, []int{1, 2, 0}, []int{top[0].Index, top[1].Index, top[2].Index})
	var sum float64
	for _, v := range res.Outputs[0].Data {
		sum += v
	}
	assert.InDelta(t, 1, sum, 1e-5)
	assert.InDelta(t, math.Exp(3)/(math.Exp(0)+math.Exp(1)+math.Exp(2)+math.Exp(3)), top[0].Score, 1e-6)
}

func TestRunRandomIsSeeded(t *testing.T) {
	add := addModel(t)
	var outs []string
	for _, seed := range []string{"7", "7", "8"} {
		code, stdout, stderr := invoke(t, "run", "--random", "--seed", seed, "--dim", "N=4", "--json", add)
		require.Equal(t, 0, code, stderr)
		var res runResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		assert.Equal(t, []int{4, 3}, res.Outputs[0].Shape)
		for _, v := range res.Outputs[0].Data {
			assert.True(t, v >= 0 && v < 2, "a+b of [0,1) values: %v", v)
		}
		outs = append(outs, fmt.Sprint(res.Outputs[0].Data))
	}
	assert.Equal(t, outs[0], outs[1])
	assert.NotEqual(t, outs[0], outs[2])
}

func TestRunSummarizesLargeOutputs(t *testing.T) {
	add := addModel(t)
	code, stdout, _ := invoke(t, "run", "--random", "--dim", "N=200", add)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "...")
	assert.Less(t, strings.Count(stdout, "\n"), 20)

	code, stdout, _ = invoke(t, "run", "--random", "--dim", "N=200", "--full", add)
	require.Equal(t, 0, code)
	assert.NotContains(t, stdout, "...")
	// A header, one line per row, and the argmax of each row.
	assert.Equal(t, 1+200+1, strings.Count(stdout, "\n"))
}

func TestFormatValues(t *testing.T) {
	tests := []struct {
		name string
		t    *tensor.Tensor
		full bool
		want string
	}{
		{"scalar", tensor.Scalar(float32(1.5)), false, "1.5"},
		{"vector", tensor.From([]int{3}, []int64{1, -20, 300}), false, "[  1 -20 300]"},
		{"matrix", tensor.From([]int{2, 2}, []float32{1, 2.5, 3, 4}), false, "[[  1 2.5]\n [  3   4]]"},
		{"rank 3", tensor.From([]int{2, 1, 2}, []int32{1, 2, 3, 4}), false, "[[[1 2]]\n\n [[3 4]]]"},
		{"bool", tensor.From([]int{2}, []bool{true, false}), false, "[ true false]"},
		{"empty", tensor.MustNew(tensor.Float32, 0, 3), false, "[[]]"},
		{"nan", tensor.From([]int{2}, []float32{float32(math.NaN()), float32(math.Inf(-1))}), false, "[ NaN -Inf]"},
		{"scientific", tensor.From([]int{1, 3}, []float32{1.5e-7, 0.25, 0}), false, "[[1.5000e-07 2.5000e-01 0.0000e+00]]"},
		{"large", tensor.From([]int{2}, []float64{3e9, -1}), false, "[ 3.0000e+09 -1.0000e+00]"},
		{"summarized", tensor.From([]int{200}, make([]uint8, 200)), false, "[0 0 0 ... 0 0 0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, formatValues(tc.t, tc.full))
		})
	}
}

// ---- .npy ---------------------------------------------------------------

func TestParseNPY(t *testing.T) {
	be32 := func(v ...int32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.BigEndian.PutUint32(b[4*i:], uint32(x))
		}
		return b
	}
	le64 := func(v ...int64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
		}
		return b
	}
	tests := []struct {
		name  string
		data  []byte
		dtype tensor.DType
		shape []int
		want  []float64
		err   string
	}{
		{"v1 float32", npyBytes(1, "<f4", false, "(2, 2)", f32le(1, 2, 3, 4)), tensor.Float32, []int{2, 2}, []float64{1, 2, 3, 4}, ""},
		{"v2 float32", npyBytes(2, "<f4", false, "(3,)", f32le(1, 2, 3)), tensor.Float32, []int{3}, []float64{1, 2, 3}, ""},
		{"v3 float32", npyBytes(3, "<f4", false, "(1, 1)", f32le(-1)), tensor.Float32, []int{1, 1}, []float64{-1}, ""},
		{"big endian int32", npyBytes(1, ">i4", false, "(3,)", be32(1, -2, 70000)), tensor.Int32, []int{3}, []float64{1, -2, 70000}, ""},
		{"int64", npyBytes(1, "<i8", false, "(2,)", le64(-5, 1<<40)), tensor.Int64, []int{2}, []float64{-5, 1 << 40}, ""},
		{"uint8", npyBytes(1, "|u1", false, "(3,)", []byte{0, 128, 255}), tensor.Uint8, []int{3}, []float64{0, 128, 255}, ""},
		{"int8", npyBytes(1, "|i1", false, "(2,)", []byte{0xff, 5}), tensor.Int8, []int{2}, []float64{-1, 5}, ""},
		{"uint16 big", npyBytes(1, ">u2", false, "(1,)", []byte{1, 2}), tensor.Uint16, []int{1}, []float64{258}, ""},
		{"bool", npyBytes(1, "|b1", false, "(2,)", []byte{1, 0}), tensor.Bool, []int{2}, []float64{1, 0}, ""},
		{"float64", npyBytes(1, "<f8", false, "(1,)", le64(int64(math.Float64bits(2.25)))), tensor.Float64, []int{1}, []float64{2.25}, ""},
		{"scalar", npyBytes(1, "<f4", false, "()", f32le(9)), tensor.Float32, []int{}, []float64{9}, ""},
		{"empty", npyBytes(1, "<f4", false, "(0, 3)", nil), tensor.Float32, []int{0, 3}, []float64{}, ""},
		{"fortran", npyBytes(1, "<f4", true, "(2, 2)", f32le(1, 2, 3, 4)), 0, nil, nil, "Fortran order"},
		{"truncated data", npyBytes(1, "<f4", false, "(2, 2)", f32le(1, 2, 3)), 0, nil, nil, "truncated"},
		{"huge shape", npyBytes(1, "<f4", false, "(4000000000, 4000000000, 4000000000)", nil), 0, nil, nil, "overflows"},
		{"complex", npyBytes(1, "<c8", false, "(1,)", make([]byte, 8)), 0, nil, nil, "unsupported .npy dtype"},
		{"strings", npyBytes(1, "<U3", false, "(1,)", make([]byte, 12)), 0, nil, nil, "unsupported .npy dtype"},
		{"bad magic", []byte("NUMPY\x01\x00\x00\x00"), 0, nil, nil, "bad magic"},
		{"bad version", append([]byte(npyMagic), 9, 0, 0, 0), 0, nil, nil, "version 9"},
		{"header truncated", append([]byte(npyMagic), 1, 0, 200, 0, '{'), 0, nil, nil, "header is truncated"},
		{"structured", append(append([]byte(npyMagic), 1, 0, 30, 0), []byte("{'descr': [('a', '<f4')], }    ")...), 0, nil, nil, "structured"},
		{"no shape", append(append([]byte(npyMagic), 1, 0, 30, 0), []byte("{'descr': '<f4', }            ")...), 0, nil, nil, `"fortran_order" is missing`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *tensor.Tensor
			var err error
			require.NotPanics(t, func() { got, err = parseNPY(tc.data) })
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.dtype, got.DType())
			assert.Equal(t, tc.shape, got.Shape())
			assert.Equal(t, tc.want, got.Float64s())
		})
	}
}

// ---- images -------------------------------------------------------------

func TestImageInputs(t *testing.T) {
	dir := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	copy(gray.Pix, []uint8{0, 51, 102, 255})
	grayPNG := writePNG(t, dir, "gray.png", gray)

	rgb := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	rgb.Set(0, 0, color.NRGBA{255, 0, 51, 255})
	rgb.Set(1, 0, color.NRGBA{0, 102, 255, 255})
	rgbPNG := writePNG(t, dir, "rgb.png", rgb)

	flat := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range flat.Pix {
		flat.Pix[i] = 204
	}
	flatPNG := writePNG(t, dir, "flat.png", flat)

	tests := []struct {
		name  string
		input graph.ValueInfo
		args  []string
		shape []int
		want  []float64
		err   string
	}{
		{"gray NCHW", tv("img", tensor.Float32, dims(1, 1, 2, 2)), []string{grayPNG}, []int{1, 1, 2, 2}, []float64{0, 0.2, 0.4, 1}, ""},
		{"symbolic batch", tv("img", tensor.Float32, dims("N", 1, 2, 2)), []string{grayPNG}, []int{1, 1, 2, 2}, []float64{0, 0.2, 0.4, 1}, ""},
		{"rgb NCHW", tv("img", tensor.Float32, dims(1, 3, 1, 2)), []string{rgbPNG}, []int{1, 3, 1, 2}, []float64{1, 0, 0, 0.4, 0.2, 1}, ""},
		{"rgb NHWC", tv("img", tensor.Float32, dims(1, 1, 2, 3)), []string{rgbPNG}, []int{1, 1, 2, 3}, []float64{1, 0, 0.2, 0, 0.4, 1}, ""},
		{"forced layout", tv("img", tensor.Float32, dims(1, "H", "W", "C")), []string{"--layout", "nhwc", rgbPNG}, []int{1, 1, 2, 3}, []float64{1, 0, 0.2, 0, 0.4, 1}, ""},
		{"rgb to gray", tv("img", tensor.Float32, dims(1, 1, 1, 2)), []string{rgbPNG}, []int{1, 1, 1, 2}, []float64{(0.299*255 + 0.114*51) / 255, (0.587*102 + 0.114*255) / 255}, ""},
		{"gray to rgb", tv("img", tensor.Float32, dims(1, 3, 1, 1)), []string{"--size", "1x1", flatPNG}, []int{1, 3, 1, 1}, []float64{0.8, 0.8, 0.8}, ""},
		{"resize", tv("img", tensor.Float32, dims(1, 1, 3, 4)), []string{flatPNG}, []int{1, 1, 3, 4}, []float64{0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8}, ""},
		{"size flag", tv("img", tensor.Float32, dims(1, 1, "H", "W")), []string{"--size", "2x3", flatPNG}, []int{1, 1, 2, 3}, []float64{0.8, 0.8, 0.8, 0.8, 0.8, 0.8}, ""},
		{"own size", tv("img", tensor.Float32, dims(1, 1, "H", "W")), []string{grayPNG}, []int{1, 1, 2, 2}, []float64{0, 0.2, 0.4, 1}, ""},
		{"mean std scale", tv("img", tensor.Float32, dims(1, 3, 1, 2)), []string{"--scale", "1", "--mean", "1,2,3", "--std", "2,2,1", rgbPNG}, []int{1, 3, 1, 2}, []float64{127, -0.5, -1, 50, 48, 252}, ""},
		{"fraction scale", tv("img", tensor.Float32, dims(1, 1, 2, 2)), []string{"--scale", "2/510", grayPNG}, []int{1, 1, 2, 2}, []float64{0, 0.2, 0.4, 1}, ""},
		{"uint8 raw pixels", tv("img", tensor.Uint8, dims(1, 1, 2, 2)), []string{grayPNG}, []int{1, 1, 2, 2}, []float64{0, 51, 102, 255}, ""},
		{"std of wrong length", tv("img", tensor.Float32, dims(1, 3, 1, 2)), []string{"--std", "1,2", rgbPNG}, nil, nil, "--std has 2 values"},
		{"no channel dim", tv("img", tensor.Float32, dims(1, 5, 2, 7)), []string{grayPNG}, nil, nil, "use --layout"},
		{"batch of two", tv("img", tensor.Float32, dims(2, 1, 2, 2)), []string{grayPNG}, nil, nil, "batch of 2"},
		{"rank 2", tv("img", tensor.Float32, dims(2, 2)), []string{grayPNG}, nil, nil, "rank-4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := identityModel(t, tc.input)
			args := append([]string{"run", "--json", m}, tc.args...)
			code, stdout, stderr := invoke(t, args...)
			if tc.shape == nil {
				require.Equal(t, 1, code, stdout)
				assert.Contains(t, stderr, tc.err)
				return
			}
			require.Equal(t, 0, code, stderr)
			var res runResult
			require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
			assert.Equal(t, tc.shape, res.Outputs[0].Shape)
			assert.InDeltaSlice(t, tc.want, res.Outputs[0].Data, 1e-5)
		})
	}

	// A grayscale image for an RGB input gives three equal channels.
	m := identityModel(t, tv("img", tensor.Float32, dims(1, 3, 6, 8)))
	code, stdout, stderr := invoke(t, "run", "--json", m, flatPNG)
	require.Equal(t, 0, code, stderr)
	var res runResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Outputs[0].Data, 3*6*8)
	for _, v := range res.Outputs[0].Data {
		assert.InDelta(t, 0.8, v, 1e-6)
	}

	// JPEG decodes too (lossy: values are close).
	var jb bytes.Buffer
	require.NoError(t, jpeg.Encode(&jb, flat, &jpeg.Options{Quality: 95}))
	jpg := writeFile(t, dir, "flat.jpeg", jb.Bytes())
	code, stdout, stderr = invoke(t, "run", "--json", identityModel(t, tv("img", tensor.Float32, dims(1, 1, 3, 4))), jpg)
	require.Equal(t, 0, code, stderr)
	res = runResult{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Outputs[0].Data, 12)
	for _, v := range res.Outputs[0].Data {
		assert.InDelta(t, 0.8, v, 0.02)
	}

	// A corrupt image is an error, not a panic.
	bad := writeFile(t, dir, "bad.png", []byte("\x89PNG\r\n\x1a\nnot really"))
	code, _, stderr = invoke(t, "run", identityModel(t, tv("img", tensor.Float32, dims(1, 1, 2, 2))), bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "decode image")
}

func TestResizeBilinear(t *testing.T) {
	// Upscaling a two-pixel ramp interpolates between pixel centres.
	got := resizePlane([]float32{0, 100}, 2, 1, 4, 1)
	assert.InDeltaSlice(t, []float32{0, 25, 75, 100}, got, 1e-4)
	// Downscaling widens the triangle to twice the source pixels
	// (antialiased, as PIL): each output of row 0 weighs 0.75, 0.75, 0.25.
	got = resizePlane([]float32{0, 100, 100, 0, 50, 50, 50, 50}, 4, 2, 2, 1)
	assert.InDeltaSlice(t, []float32{750.0 / 14, 750.0 / 14}, got, 1e-3)
	// A uniform plane stays uniform at any size.
	flat := make([]float32, 7*5)
	for i := range flat {
		flat[i] = 42
	}
	for _, size := range [][2]int{{3, 2}, {10, 9}, {1, 1}, {7, 5}} {
		for _, v := range resizePlane(flat, 7, 5, size[0], size[1]) {
			assert.InDelta(t, 42, v, 1e-4)
		}
	}
}

// ---- info, bench, ops -----------------------------------------------------

func TestInfo(t *testing.T) {
	cls := classifierModel(t)
	code, stdout, stderr := invoke(t, "info", cls)
	require.Equal(t, 0, code, stderr)
	for _, s := range []string{"producer:", "onyx-test 0.1", "ir version:", "ai.onnx 13", "x  float32[1 4]", "probs  float32[1 4]",
		"parameters:", "4 (16 B in 1 initializers)", "operators (2 nodes, 2 kinds)", "1  Add", "supported: yes"} {
		assert.Contains(t, stdout, s)
	}

	code, stdout, stderr = invoke(t, "info", "--json", addModel(t))
	require.Equal(t, 0, code, stderr)
	var info infoJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &info), stdout)
	assert.Equal(t, "onyx-test", info.Producer)
	assert.Equal(t, int64(8), info.IRVersion)
	assert.Equal(t, []opsetJSON{{"ai.onnx", 13}}, info.Opsets)
	require.Len(t, info.Inputs, 2)
	assert.Equal(t, []any{"N", float64(3)}, info.Inputs[0].Shape)
	assert.Equal(t, "float32", info.Inputs[0].DType)
	assert.Equal(t, []opCount{{"Add", "ai.onnx", 1}}, info.Ops)
	assert.True(t, info.Supported)
	assert.Empty(t, info.Unsupported)

	// Unsupported operators, one of them inside an If branch, are listed and
	// counted in the histogram.
	branch := &graph.Graph{Name: "then", Outputs: []graph.ValueInfo{tv("y", tensor.Float32, dims(1))},
		Nodes: []*graph.Node{{OpType: "Frobnicate", Inputs: []string{"x"}, Outputs: []string{"y"}}, {OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"z"}}}}
	elseBranch := &graph.Graph{Name: "else", Outputs: []graph.ValueInfo{tv("x", tensor.Float32, dims(1))}}
	m := model([]graph.ValueInfo{tv("x", tensor.Float32, dims(1)), tv("c", tensor.Bool, dims())},
		[]graph.ValueInfo{tv("out", tensor.Float32, dims(1))},
		&graph.Node{Name: "cond", OpType: "If", Inputs: []string{"c"}, Outputs: []string{"out"}, Attrs: []*ops.Attr{
			{Name: "then_branch", Type: ops.AttrGraph, Graph: branch}, {Name: "else_branch", Type: ops.AttrGraph, Graph: elseBranch}}},
		&graph.Node{Name: "weird", OpType: "Wibble", Domain: "com.example", Inputs: []string{"x"}, Outputs: []string{"w"}},
	)
	m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: "com.example", Version: 1})
	p := writeModel(t, m)
	code, stdout, stderr = invoke(t, "info", p)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "unsupported operators (2)")
	assert.Contains(t, stdout, "Frobnicate")
	assert.Contains(t, stdout, "com.example:Wibble")
	assert.Contains(t, stdout, "operators (4 nodes, 4 kinds)")

	code, stdout, _ = invoke(t, "info", "--json", p)
	require.Equal(t, 0, code)
	info = infoJSON{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &info))
	assert.False(t, info.Supported)
	assert.Len(t, info.Unsupported, 2)
	assert.Len(t, info.Ops, 4)

	// Running it reports the unsupported operators too.
	code, _, stderr = invoke(t, "run", "--random", p)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "Frobnicate")

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"info"}, 2},
		{[]string{"info", cls, cls}, 2},
		{[]string{"info", "-h"}, 0},
		{[]string{"info", filepath.Join(t.TempDir(), "missing.onnx")}, 1},
	} {
		code, _, _ := invoke(t, tc.args...)
		assert.Equal(t, tc.code, code, "%v", tc.args)
	}
}

func TestBench(t *testing.T) {
	add := addModel(t)
	a := writeNPY(t, t.TempDir(), "a.npy", "(2, 3)", 1, 2, 3, 4, 5, 6)
	code, stdout, stderr := invoke(t, "bench", "--runs", "2", "--json", add, "b="+a)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `"p50_ms"`)

	code, stdout, stderr = invoke(t, "bench", "--runs", "7", "--warmup", "1", "--threads", "1", "--dim", "N=4", "--json", add)
	require.Equal(t, 0, code, stderr)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	for _, k := range []string{"p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "throughput_per_s", "runs", "threads", "model"} {
		assert.Contains(t, r, k)
	}
	assert.Equal(t, float64(7), r["runs"])
	assert.Equal(t, float64(1), r["threads"])
	assert.LessOrEqual(t, r["min_ms"].(float64), r["p50_ms"].(float64))
	assert.LessOrEqual(t, r["p50_ms"].(float64), r["p99_ms"].(float64))

	code, stdout, stderr = invoke(t, "bench", "--runs", "3", add)
	require.Equal(t, 0, code, stderr)
	for _, s := range []string{"median", "p90", "p99", "runs/s"} {
		assert.Contains(t, stdout, s)
	}

	// --nodes: the model's one node, with all of the nodes' time.
	code, stdout, stderr = invoke(t, "bench", "--runs", "3", "--nodes", "5", "--json", add)
	require.Equal(t, 0, code, stderr)
	var rn struct {
		Nodes []struct {
			OpType string  `json:"op_type"`
			MS     float64 `json:"ms_per_run"`
			Share  float64 `json:"share"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rn), stdout)
	require.Len(t, rn.Nodes, 1)
	assert.Equal(t, "Add", rn.Nodes[0].OpType)
	assert.Equal(t, 1.0, rn.Nodes[0].Share)
	assert.Positive(t, rn.Nodes[0].MS)
	code, stdout, stderr = invoke(t, "bench", "--runs", "3", "--nodes", "5", add)
	require.Equal(t, 0, code, stderr)
	for _, s := range []string{"slowest nodes", "operator type (nodes)", "Add (1)", "100.0%"} {
		assert.Contains(t, stdout, s)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"bench"}, 2},
		{[]string{"bench", "--nodes", "-1", add}, 2},
		{[]string{"bench", "--runs", "0", add}, 2},
		{[]string{"bench", "--threads", "-1", add}, 2},
		{[]string{"bench", "-h"}, 0},
		{[]string{"bench", add, a, a, a}, 2},
		{[]string{"bench", filepath.Join(t.TempDir(), "missing.onnx")}, 1},
	} {
		code, _, _ := invoke(t, tc.args...)
		assert.Equal(t, tc.code, code, "%v", tc.args)
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5}
	assert.Equal(t, 3.0, percentile(s, 50))
	assert.InDelta(t, 4.6, percentile(s, 90), 1e-9)
	assert.Equal(t, 5.0, percentile(s, 100))
	assert.Equal(t, 7.0, percentile([]float64{7}, 99))
}

func TestOps(t *testing.T) {
	code, stdout, _ := invoke(t, "ops")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	assert.Equal(t, len(registry().List()), len(lines))
	found := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "Add" {
			found = true
			assert.Equal(t, "ai.onnx", f[1])
			assert.Contains(t, l, "7, 13, 14")
		}
	}
	assert.True(t, found, "Add is listed")

	code, stdout, _ = invoke(t, "ops", "--markdown")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(stdout, "| Operator | Domain | Versions |\n|---|---|---|\n"))
	assert.Contains(t, stdout, "| Add | ai.onnx | ")

	code, stdout, _ = invoke(t, "ops", "--json")
	require.Equal(t, 0, code)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &list))
	assert.NotEmpty(t, list)

	code, _, _ = invoke(t, "ops", "extra")
	assert.Equal(t, 2, code)
}

func TestTopLevel(t *testing.T) {
	code, _, stderr := invoke(t)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "usage: infer")
	code, _, _ = invoke(t, "frob")
	assert.Equal(t, 2, code)
	code, _, _ = invoke(t, "help")
	assert.Equal(t, 0, code)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		top  int
	}{
		{[]string{"m", "a", "b"}, []string{"m", "a", "b"}, 0},
		{[]string{"--top", "3", "m", "a"}, []string{"m", "a"}, 3},
		{[]string{"m", "--top", "3", "a"}, []string{"m", "a"}, 3},
		{[]string{"m", "a", "--top=4"}, []string{"m", "a"}, 4},
		{[]string{"m", "--", "--top", "a"}, []string{"m", "--top", "a"}, 0},
	}
	for _, tc := range tests {
		fs := newFlagSet("x", "", &bytes.Buffer{})
		top := fs.Int("top", 0, "")
		pos, err := parseFlags(fs, tc.args)
		require.NoError(t, err)
		assert.Equal(t, tc.pos, pos, "%v", tc.args)
		assert.Equal(t, tc.top, *top, "%v", tc.args)
	}
}

// The trained MNIST model must recognise its sample digit (skipped until
// models/mnist-cnn/train.py has produced it).
func TestMNISTDigit7(t *testing.T) {
	m := filepath.Join("..", "..", "models", "mnist-cnn", "model.onnx")
	img := filepath.Join("..", "..", "models", "mnist-cnn", "digit7.png")
	for _, p := range []string{m, img} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not present", p)
		}
	}
	code, stdout, stderr := invoke(t, "run", m, img)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "class 7 ")
}

// FuzzParseNPY checks that no input makes the .npy reader panic.
func FuzzParseNPY(f *testing.F) {
	f.Add(npyBytes(1, "<f4", false, "(2, 2)", f32le(1, 2, 3, 4)))
	f.Add(npyBytes(2, ">i8", false, "(1,)", make([]byte, 8)))
	f.Add(npyBytes(3, "|b1", true, "()", []byte{1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tt, err := parseNPY(data)
		if err == nil {
			n, err := tensor.NumElements(tt.Shape())
			require.NoError(t, err)
			require.Equal(t, n, tt.Len())
		}
	})
}
