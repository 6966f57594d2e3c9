package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"sort"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

const explainSynopsis = `usage: infer explain [flags] MODEL IMAGE --out HEAT.png

Shows which pixels drive a classifier's score for a class (default: the
predicted one): the gradient of the score with respect to the input image,
computed by Onyx's autograd. For a model ending in Softmax the score is the
logit that feeds it.

  saliency               |gradient|, the largest over the channels
  integrated-gradients   (image - black image) x the gradient averaged along
                         the straight path from the black image to the image
                         (--steps points, midpoint rule); heat |sum over channels|

The heat (scaled so that its 99th percentile is 1) is drawn in colour, blue
to red, over the grey image as the model sees it (resized to its input) and
written as a PNG of the input's size times --zoom. The class and its score
are printed. The image flags are infer run's.

examples:
  infer explain --zoom 8 models/mnist-cnn/model.onnx models/mnist-cnn/digit7.png --out heat.png
  infer explain --method integrated-gradients --steps 64 --class 3 model.onnx cat.jpg --out why3.png`

type explainOptions struct {
	out     string
	class   int
	method  string
	steps   int
	zoom    int
	alpha   float64
	json    bool
	threads int
	img     runOptions // the image flags: layout, scale, mean, std, size
}

func cmdExplain(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "explain", &code)
	o := explainOptions{}
	fs := newFlagSet("explain", explainSynopsis, stderr)
	fs.StringVar(&o.out, "out", "", "write the heat map to `HEAT.png` (required)")
	fs.IntVar(&o.class, "class", -1, "explain the score of class `K` (default: the predicted class)")
	fs.StringVar(&o.method, "method", "saliency", "`saliency|integrated-gradients` (or ig)")
	fs.IntVar(&o.steps, "steps", 32, "integrated gradients: points on the path from the black image")
	fs.IntVar(&o.zoom, "zoom", 1, "enlarge the heat map `K` times (nearest neighbour)")
	fs.Float64Var(&o.alpha, "alpha", 0.7, "opacity of the colours where the heat is largest, in [0,1]")
	fs.BoolVar(&o.json, "json", false, "print one JSON object {class, score, method, target, out, width, height}")
	fs.IntVar(&o.threads, "threads", 0, "compute threads (0: all cores)")
	fs.StringVar(&o.img.layout, "layout", "", "image layout `nchw|nhwc` (default: from the input's shape)")
	fs.StringVar(&o.img.scale, "scale", "1/255", "image pixel `multiplier`, a number or a fraction")
	fs.StringVar(&o.img.mean, "mean", "", "image per-channel `means` subtracted after scaling, comma-separated")
	fs.StringVar(&o.img.std, "std", "", "image per-channel `stds` divided by after the mean, comma-separated")
	fs.StringVar(&o.img.size, "size", "", "resize the image to `HxW` (default: the input's declared H and W)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	fail := failFunc("explain", stderr)
	switch o.method {
	case "ig":
		o.method = "integrated-gradients"
	case "saliency", "integrated-gradients":
	default:
		return fail(usagef("--method must be saliency or integrated-gradients, not %q", o.method))
	}
	switch {
	case len(pos) != 2:
		return fail(usagef("want MODEL and IMAGE, got %d arguments", len(pos)))
	case o.out == "":
		return fail(usagef("no --out HEAT.png given"))
	case o.steps < 1 || o.zoom < 1 || o.zoom > 64:
		return fail(usagef("--steps must be positive and --zoom in 1..64"))
	case !(o.alpha >= 0 && o.alpha <= 1):
		return fail(usagef("--alpha must be in [0,1]"))
	case o.threads < 0:
		return fail(usagef("--threads must not be negative"))
	}
	imgOpts, err := o.img.imageOptions(fs)
	if err != nil {
		return fail(err)
	}

	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	ins := dataInputs(m)
	if len(ins) != 1 {
		return fail(fmt.Errorf("the model has %d inputs (%s); infer explain needs one image input", len(ins), inputNames(ins)))
	}
	vi := ins[0]
	if dt := vi.Type.DType; dt != tensor.Undefined && !dt.IsFloat() {
		return fail(fmt.Errorf("input %q is %v: gradients need a float input", vi.Name, dt))
	}
	layout, err := layoutFor(vi, imgOpts.layout)
	if err != nil {
		return fail(err)
	}
	raw, err := os.ReadFile(pos[1])
	if err != nil {
		return fail(err)
	}
	x, err := loadImage(bytes.NewReader(raw), vi, imgOpts)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", pos[1], err))
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", pos[1], err))
	}

	ctx, stop := interruptContext()
	defer stop()
	sess, err := compileModel(m, o.threads)
	if err != nil {
		return fail(err)
	}
	outName := sess.Outputs()[0].Name
	outs, err := sess.Run(ctx, map[string]*tensor.Tensor{vi.Name: x})
	if err != nil {
		return fail(fmt.Errorf("run: %w", err))
	}
	scores := classScores(outs[outName])
	if scores == nil {
		return fail(fmt.Errorf("output %q is %s: infer explain wants class scores [1,C] or [C]", outName, describeTensor(outs[outName])))
	}
	class := o.class
	if class < 0 {
		class = topK(scores, 1)[0].Index
	} else if class >= len(scores) {
		return fail(usagef("--class %d: the model has %d classes", class, len(scores)))
	}

	target := outName
	if logits := softmaxInput(m.Graph, outName); logits != "" {
		target = logits
	}
	ex, err := newExplainer(m, vi, target, outs[outName], class, o.threads)
	if err != nil {
		return fail(err)
	}
	var heat []float64
	if o.method == "saliency" {
		_, g, err := ex.gradient(ctx, x)
		if err != nil {
			return fail(err)
		}
		heat = channelReduce(g, layout, func(acc, v float64, first bool) float64 {
			if first {
				return math.Abs(v)
			}
			return math.Max(acc, math.Abs(v))
		})
	} else {
		black := image.NewGray(img.Bounds())
		var pb bytes.Buffer
		if err := png.Encode(&pb, black); err != nil {
			return fail(err)
		}
		base, err := loadImage(bytes.NewReader(pb.Bytes()), vi, imgOpts)
		if err != nil {
			return fail(err)
		}
		attr, sum, diff, err := ex.integratedGradients(ctx, x, base, o.steps)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "integrated gradients: the attributions sum to %.6g, score(image) - score(black) = %.6g\n", sum, diff)
		heat = channelReduce(attr, layout, func(acc, v float64, _ bool) float64 { return acc + v })
		for i, v := range heat {
			heat[i] = math.Abs(v)
		}
	}
	h, w := x.Shape()[layout.hAxis], x.Shape()[layout.hAxis+1]
	pic := heatMap(img, heat, w, h, o.zoom, o.alpha)
	var pb bytes.Buffer
	if err := png.Encode(&pb, pic); err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(o.out, pb.Bytes()); err != nil {
		return fail(err)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(explainJSON{Class: class, Score: scores[class], Method: o.method, Target: target,
			Out: o.out, Width: pic.Bounds().Dx(), Height: pic.Bounds().Dy()}); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprintf(stdout, "class %d (score %s)\n", class, formatFloat(scores[class]))
	if target != outName {
		fmt.Fprintf(stderr, "note: explained the logit %q (the input of the Softmax giving %q)\n", target, outName)
	}
	fmt.Fprintf(stderr, "wrote %s (%dx%d, %s)\n", o.out, pic.Bounds().Dx(), pic.Bounds().Dy(), o.method)
	return 0
}

type explainJSON struct {
	Class  int     `json:"class"`
	Score  float64 `json:"score"`
	Method string  `json:"method"`
	Target string  `json:"target"` // the value differentiated
	Out    string  `json:"out"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
}

// explainer computes the gradient of one class score with respect to the
// model's input.
type explainer struct {
	sess      *runtime.Session
	input     graph.ValueInfo
	score     string
	grad      string
	batchable bool // the input's batch dimension is free
}

// newExplainer appends to (a copy of) m the score of class: the sum of
// target * onehot(class), target shaped like the model output out ([1,C]
// or [C]), and differentiates it with respect to the input vi.
func newExplainer(m *graph.Model, vi graph.ValueInfo, target string, out *tensor.Tensor, class, threads int) (*explainer, error) {
	gm := *m
	g := *m.Graph
	g.Nodes = append([]*graph.Node(nil), m.Graph.Nodes...)
	g.Initializers = make(map[string]*tensor.Tensor, len(m.Graph.Initializers)+1)
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	g.InitializerOrder = append([]string(nil), m.Graph.InitializerOrder...)
	g.Outputs = nil
	gm.Graph = &g
	shape := append([]int(nil), out.Shape()...)
	for i := 0; i < len(shape)-1; i++ {
		shape[i] = 1
	}
	oh := make([]float64, shape[len(shape)-1])
	oh[class] = 1
	onehot, err := tensor.From(shape, oh).Cast(out.DType())
	if err != nil {
		return nil, err
	}
	ohName := freshName(&gm, "explain/onehot")
	g.AddInitializer(ohName, onehot)
	masked := freshName(&gm, "explain/masked")
	g.Nodes = append(g.Nodes, &graph.Node{Name: masked, OpType: "Mul", Inputs: []string{target, ohName}, Outputs: []string{masked}})
	score := freshName(&gm, "explain/score")
	g.Nodes = append(g.Nodes, &graph.Node{Name: score, OpType: "ReduceSum", Inputs: []string{masked}, Outputs: []string{score},
		Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}})
	bm, grads, err := train.Backward(&gm, score, []string{vi.Name}, registry())
	if err != nil {
		return nil, fmt.Errorf("differentiating the class score: %w", err)
	}
	sess, err := compileModel(bm, threads)
	if err != nil {
		return nil, err
	}
	s := vi.Type.Shape
	batchable := len(s) == 4 && !s[0].Known()
	return &explainer{sess: sess, input: vi, score: score, grad: grads[vi.Name], batchable: batchable}, nil
}

// gradient returns the score (summed over a batch) and its gradient at x.
func (e *explainer) gradient(ctx context.Context, x *tensor.Tensor) (float64, *tensor.Tensor, error) {
	outs, err := e.sess.Run(ctx, map[string]*tensor.Tensor{e.input.Name: x})
	if err != nil {
		return 0, nil, fmt.Errorf("gradient: %w", err)
	}
	g := outs[e.grad]
	if g == nil || !tensor.ShapeEqual(g.Shape(), x.Shape()) {
		return 0, nil, fmt.Errorf("gradient: got %s for an input %v", describeTensor(g), x.Shape())
	}
	return outs[e.score].Float64s()[0], g, nil
}

// integratedGradients returns the attributions (x - base) * mean gradient
// on the path base + a*(x - base), a at the midpoints of steps intervals,
// with their sum and score(x) - score(base), which it approximates.
func (e *explainer) integratedGradients(ctx context.Context, x, base *tensor.Tensor, steps int) (attr *tensor.Tensor, sum, diff float64, err error) {
	xv, bv := x.Float64s(), base.Float64s()
	per := len(xv)
	mean := make([]float64, per)
	chunk := 1
	if e.batchable && x.Rank() == 4 && x.Shape()[0] == 1 {
		chunk = 16
	}
	for lo := 0; lo < steps; lo += chunk {
		k := min(chunk, steps-lo)
		pts := make([]float64, k*per)
		for j := 0; j < k; j++ {
			a := (float64(lo+j) + 0.5) / float64(steps)
			for i := range xv {
				pts[j*per+i] = bv[i] + a*(xv[i]-bv[i])
			}
		}
		shape := append([]int(nil), x.Shape()...)
		if k > 1 {
			shape[0] = k
		}
		t, err := tensor.From(shape, pts).Cast(x.DType())
		if err != nil {
			return nil, 0, 0, err
		}
		_, g, err := e.gradient(ctx, t)
		if err != nil {
			return nil, 0, 0, err
		}
		for j, v := range g.Float64s() {
			mean[j%per] += v / float64(steps)
		}
	}
	out := make([]float64, per)
	for i := range out {
		out[i] = (xv[i] - bv[i]) * mean[i]
		sum += out[i]
	}
	sx, _, err := e.gradient(ctx, x)
	if err != nil {
		return nil, 0, 0, err
	}
	sb, _, err := e.gradient(ctx, base)
	if err != nil {
		return nil, 0, 0, err
	}
	return tensor.From(x.Shape(), out), sum, sx - sb, nil
}

// channelReduce folds an image tensor ([1,C,H,W], [1,H,W,C] or unbatched)
// over its channels into H*W values.
func channelReduce(t *tensor.Tensor, l imageLayout, f func(acc, v float64, first bool) float64) []float64 {
	s := t.Shape()
	strides := tensor.Strides(s)
	h, w, c := s[l.hAxis], s[l.hAxis+1], s[l.cAxis]
	v := t.Float64s()
	out := make([]float64, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			acc := 0.0
			for ch := 0; ch < c; ch++ {
				i := y*strides[l.hAxis] + x*strides[l.hAxis+1] + ch*strides[l.cAxis]
				acc = f(acc, v[i], ch == 0)
			}
			out[y*w+x] = acc
		}
	}
	return out
}

// heatMap draws heat (h*w values >= 0) in colour over the grey image
// resized to w×h, enlarged zoom times. The heat is scaled so that its 99th
// percentile is 1 (values above are clipped) and blended with opacity
// alpha*heat.
func heatMap(img image.Image, heat []float64, w, h, zoom int, alpha float64) *image.NRGBA {
	b := img.Bounds()
	grey := resizePlane(imagePlanes(img, 1)[0], b.Dx(), b.Dy(), w, h)
	scale := percentile99(heat)
	out := image.NewNRGBA(image.Rect(0, 0, w*zoom, h*zoom))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 0.0
			if scale > 0 {
				v = math.Min(heat[y*w+x]/scale, 1)
			}
			r, g, bl := heatColor(v)
			a := alpha * v
			base := float64(grey[y*w+x])
			c := color.NRGBA{
				R: clampByte((1-a)*base + a*r),
				G: clampByte((1-a)*base + a*g),
				B: clampByte((1-a)*base + a*bl),
				A: 255,
			}
			for dy := 0; dy < zoom; dy++ {
				for dx := 0; dx < zoom; dx++ {
					out.SetNRGBA(x*zoom+dx, y*zoom+dy, c)
				}
			}
		}
	}
	return out
}

// percentile99 returns the 99th percentile of v, or its maximum when that
// is 0.
func percentile99(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	p := s[int(0.99*float64(len(s)-1))]
	if p <= 0 || math.IsNaN(p) {
		p = s[len(s)-1]
	}
	return p
}

// heatStops is the colour scale: navy, azure, green, yellow, red.
var heatStops = [][3]float64{{0, 0, 128}, {0, 128, 255}, {0, 220, 120}, {255, 230, 0}, {255, 0, 0}}

// heatColor maps v in [0,1] to the colour scale.
func heatColor(v float64) (r, g, b float64) {
	f := v * float64(len(heatStops)-1)
	i := min(int(f), len(heatStops)-2)
	t := f - float64(i)
	lo, hi := heatStops[i], heatStops[i+1]
	return lo[0] + t*(hi[0]-lo[0]), lo[1] + t*(hi[1]-lo[1]), lo[2] + t*(hi[2]-lo[2])
}

func clampByte(v float64) uint8 {
	return uint8(math.Round(math.Min(math.Max(v, 0), 255)))
}
