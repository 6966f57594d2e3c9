package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// linearImageModel is a hand-made linear classifier of 8x8 images: the
// score of class 0 is the sum of the top-left 4x4 pixels (of channel 0),
// that of class 1 a small constant weight on every pixel; probs =
// Softmax(scores). shape is the input's shape, NCHW or NHWC.
func linearImageModel(t *testing.T, shape []any, nhwc bool) string {
	c := 1
	if nhwc {
		c = shape[3].(int)
	} else {
		c = shape[1].(int)
	}
	const h, w = 8, 8
	weights := make([]float32, h*w*c*2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				i := ch*h*w + y*w + x // flattened NCHW
				if nhwc {
					i = (y*w+x)*c + ch
				}
				if y < 4 && x < 4 && ch == 0 {
					weights[2*i] = 1
				}
				weights[2*i+1] = 0.001
			}
		}
	}
	m := model(
		[]graph.ValueInfo{tv("image", tensor.Float32, dims(shape...))},
		[]graph.ValueInfo{tv("probs", tensor.Float32, dims(shape[0], 2))},
		&graph.Node{OpType: "Flatten", Inputs: []string{"image"}, Outputs: []string{"flat"}, Attrs: []*ops.Attr{ops.IntAttr("axis", 1)}},
		&graph.Node{OpType: "MatMul", Inputs: []string{"flat", "W"}, Outputs: []string{"scores"}},
		&graph.Node{OpType: "Softmax", Inputs: []string{"scores"}, Outputs: []string{"probs"}, Attrs: []*ops.Attr{ops.IntAttr("axis", 1)}},
	)
	m.Graph.AddInitializer("W", tensor.From([]int{h * w * c, 2}, weights))
	return writeModel(t, m)
}

// redness returns the mean R-B of the heat map inside and outside the
// top-left quarter.
func redness(t *testing.T, img image.Image) (inside, outside float64) {
	b := img.Bounds()
	var ni, no int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			d := float64(c.R) - float64(c.B)
			if x < b.Dx()/2 && y < b.Dy()/2 {
				inside += d
				ni++
			} else {
				outside += d
				no++
			}
		}
	}
	return inside / float64(ni), outside / float64(no)
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	grey := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range grey.Pix {
		grey.Pix[i] = 128
	}
	imgPath := writePNG(t, dir, "grey.png", grey)
	tests := []struct {
		name   string
		model  string
		flags  []string
		size   int
		class  int
		region bool // the heat sits on the top-left quarter
	}{
		{"saliency nchw", linearImageModel(t, []any{"N", 1, 8, 8}, false), nil, 8, 0, true},
		{"saliency zoom", linearImageModel(t, []any{1, 1, 8, 8}, false), []string{"--zoom", "4"}, 32, 0, true},
		{"saliency nhwc rgb", linearImageModel(t, []any{"N", 8, 8, 3}, true), []string{"--zoom", "2"}, 16, 0, true},
		{"integrated gradients batched", linearImageModel(t, []any{"N", 1, 8, 8}, false), []string{"--method", "integrated-gradients", "--steps", "20"}, 8, 0, true},
		{"integrated gradients batch 1", linearImageModel(t, []any{1, 8, 8, 3}, true), []string{"--method", "ig", "--steps", "3"}, 8, 0, true},
		{"other class: uniform heat", linearImageModel(t, []any{"N", 1, 8, 8}, false), []string{"--class", "1"}, 8, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "heat.png")
			code, stdout, stderr := invoke(t, args("explain", "--json", "--out", out, tc.flags, tc.model, imgPath)...)
			require.Equal(t, 0, code, stderr)
			var r explainJSON
			require.NoError(t, json.Unmarshal([]byte(stdout), &r))
			assert.Equal(t, tc.class, r.Class)
			assert.Equal(t, "scores", r.Target, "the logits, not the probabilities")
			assert.Equal(t, tc.size, r.Width)
			f, err := os.Open(out)
			require.NoError(t, err)
			defer f.Close()
			img, err := png.Decode(f)
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, tc.size, tc.size), img.Bounds())
			inside, outside := redness(t, img)
			t.Logf("mean R-B inside %.1f, outside %.1f", inside, outside)
			if tc.region {
				assert.Greater(t, inside, 100.0, "hot where the weights are")
				assert.InDelta(t, 0, outside, 1, "the grey image where they are not")
			} else {
				assert.InDelta(t, inside, outside, 1e-9, "uniform weights, uniform heat")
			}
		})
	}

	// Integrated gradients of a linear score are exact: the attributions
	// sum to the score difference.
	code, _, stderr := invoke(t, "explain", "--method", "ig", "--steps", "4", "--out", filepath.Join(dir, "ig.png"),
		linearImageModel(t, []any{"N", 1, 8, 8}, false), imgPath)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "the attributions sum to 8.03137, score(image) - score(black) = 8.03137")

	// The text output names the class and its score.
	code, stdout, stderr := invoke(t, "explain", "--out", filepath.Join(dir, "s.png"), linearImageModel(t, []any{"N", 1, 8, 8}, false), imgPath)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^class 0 \(score 0\.999`, stdout)
	assert.Contains(t, stderr, `explained the logit "scores"`)

	// --class out of range is a usage error; a model with a non-image
	// output is a failure.
	code, _, _ = invoke(t, "explain", "--class", "2", "--out", filepath.Join(dir, "x.png"), linearImageModel(t, []any{"N", 1, 8, 8}, false), imgPath)
	assert.Equal(t, 2, code)
	code, _, stderr = invoke(t, "explain", "--out", filepath.Join(dir, "x.png"), addModel(t), imgPath)
	assert.Equal(t, 1, code, stderr)
}

// The real MNIST CNN: the saliency of its "7" lies on the stroke.
func TestExplainMNIST(t *testing.T) {
	mp := filepath.Join("..", "..", "models", "mnist-cnn", "model.onnx")
	img := filepath.Join("..", "..", "models", "mnist-cnn", "digit7.png")
	for _, p := range []string{mp, img} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not present", p)
		}
	}
	for _, method := range []string{"saliency", "integrated-gradients"} {
		out := filepath.Join(t.TempDir(), "heat.png")
		code, stdout, stderr := invoke(t, "explain", "--method", method, "--out", out, "--zoom", "2", mp, img)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "class 7 (score 0.9999")
		f, err := os.Open(out)
		require.NoError(t, err)
		heat, err := png.Decode(f)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, image.Rect(0, 0, 56, 56), heat.Bounds())
	}
}
