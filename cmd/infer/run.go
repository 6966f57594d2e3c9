package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

const runSynopsis = `usage: infer run [flags] MODEL [INPUT...]

Runs MODEL once and prints every output. Each INPUT is PATH (matched to the
model's inputs in order) or NAME=PATH. Formats: .npy, .pb (TensorProto),
.png/.jpg/.jpeg (resized to the input's HxW, NCHW or NHWC after its shape,
pixels scaled to [0,1]). With --random, inputs not given are generated.

examples:
  infer run models/mnist-cnn/model.onnx models/mnist-cnn/digit7.png
  infer run --top 5 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 resnet.onnx cat.jpg
  infer run --random --dim batch=2 --json model.onnx
  infer run model.onnx input_ids=ids.npy attention_mask=mask.npy`

// runOptions are the flags of infer run.
type runOptions struct {
	random  bool
	seed    uint64
	dims    dimFlag
	layout  string
	scale   string
	mean    string
	std     string
	size    string
	top     int
	full    bool
	json    bool
	threads int
}

func cmdRun(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "run", &code)
	o := runOptions{dims: dimFlag{}}
	fs := newFlagSet("run", runSynopsis, stderr)
	fs.BoolVar(&o.random, "random", false, "generate the inputs not given (floats uniform in [0,1), ints 0..9)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for --random")
	fs.Var(o.dims, "dim", "`NAME=V` value of a symbolic dimension for --random (repeatable; default 1)")
	fs.StringVar(&o.layout, "layout", "", "image layout `nchw|nhwc` (default: from the input's shape)")
	fs.StringVar(&o.scale, "scale", "1/255", "image pixel `multiplier`, a number or a fraction (integer inputs default to 1)")
	fs.StringVar(&o.mean, "mean", "", "image per-channel `means` subtracted after scaling, comma-separated")
	fs.StringVar(&o.std, "std", "", "image per-channel `stds` divided by after the mean, comma-separated")
	fs.StringVar(&o.size, "size", "", "resize images to `HxW` (default: the input's declared H and W)")
	fs.IntVar(&o.top, "top", 0, "print the top `K` classes of outputs shaped [1,C] or [C]")
	fs.BoolVar(&o.full, "full", false, "print every value, not a summary")
	fs.BoolVar(&o.json, "json", false, "print one JSON object {outputs: [{name, dtype, shape, data}], time_ms}")
	fs.IntVar(&o.threads, "threads", 0, "compute threads (0: all cores)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "infer run:", err)
		if exitCode(err) == 2 {
			fmt.Fprintln(stderr, "Run 'infer run -h' for usage.")
		}
		return exitCode(err)
	}
	if len(pos) == 0 {
		return fail(usagef("no MODEL given"))
	}
	img, err := o.imageOptions(fs)
	if err != nil {
		return fail(err)
	}
	if o.top < 0 || o.threads < 0 {
		return fail(usagef("--top and --threads must not be negative"))
	}

	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	sess, err := compileModel(m, o.threads)
	if err != nil {
		return fail(err)
	}
	note := func(format string, args ...any) { fmt.Fprintf(stderr, "note: "+format+"\n", args...) }
	feeds, err := buildFeeds(sess.Inputs(), pos[1:], feedOptions{random: o.random, seed: o.seed, dims: o.dims, image: img, note: note})
	if err != nil {
		return fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	outs, err := sess.Run(ctx, feeds)
	elapsed := time.Since(start)
	if err != nil {
		return fail(fmt.Errorf("run: %w", err))
	}
	ms := float64(elapsed.Microseconds()) / 1000

	if o.json {
		res := runJSON{TimeMS: ms, Outputs: []outputJSON{}}
		for _, vi := range sess.Outputs() {
			t := outs[vi.Name]
			oj := outputJSON{Name: vi.Name, DType: t.DType().String(), Shape: t.Shape(), Data: jsonValues(t)}
			if o.top > 0 {
				if c := classScores(t); c != nil {
					oj.Top = topK(c, o.top)
					if t.DType() != tensor.Float64 {
						for i := range oj.Top { // print float32 scores in their shortest form
							oj.Top[i].Score, _ = strconv.ParseFloat(strconv.FormatFloat(oj.Top[i].Score, 'g', -1, 32), 64)
						}
					}
				}
			}
			res.Outputs = append(res.Outputs, oj)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fail(err)
		}
		return 0
	}
	for i, vi := range sess.Outputs() {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		t := outs[vi.Name]
		fmt.Fprintf(stdout, "%s: %v %v\n", vi.Name, t.DType(), t.Shape())
		fmt.Fprintln(stdout, formatValues(t, o.full))
		scores := classScores(t)
		switch {
		case scores == nil:
		case o.top > 0:
			fmt.Fprintf(stdout, "top %d:\n", min(o.top, len(scores)))
			for _, c := range topK(scores, o.top) {
				fmt.Fprintf(stdout, "  %5d  %s\n", c.Index, formatFloat(c.Score))
			}
		case t.Rank() == 2 && len(scores) >= 2 && len(scores) <= 1000:
			best := topK(scores, 1)[0]
			fmt.Fprintf(stdout, "class %d (score %s)\n", best.Index, formatFloat(best.Score))
		}
		if scores == nil && t.DType().IsFloat() && t.Rank() == 2 && t.Shape()[0] > 1 && t.Shape()[1] >= 2 && t.Shape()[1] <= 1000 {
			fmt.Fprintf(stdout, "classes (argmax of each row): %s\n", rowArgmax(t))
		}
	}
	fmt.Fprintf(stderr, "ran in %.3f ms\n", ms)
	return 0
}

func (o *runOptions) imageOptions(fs *flag.FlagSet) (imageOptions, error) {
	img := imageOptions{}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "scale" {
			img.scaleSet = true
		}
	})
	var err error
	if img.scale, err = parseScale(o.scale); err != nil {
		return img, usagef("--scale: %v", err)
	}
	switch l := strings.ToLower(o.layout); l {
	case "", "nchw", "nhwc":
		img.layout = l
	default:
		return img, usagef("--layout must be nchw or nhwc, not %q", o.layout)
	}
	if img.mean, err = parseFloatList(o.mean); err != nil {
		return img, usagef("--mean: %v", err)
	}
	if img.std, err = parseFloatList(o.std); err != nil {
		return img, usagef("--std: %v", err)
	}
	if img.h, img.w, err = parseSize(o.size); err != nil {
		return img, usagef("--size: %v", err)
	}
	return img, nil
}

type runJSON struct {
	Outputs []outputJSON `json:"outputs"`
	TimeMS  float64      `json:"time_ms"`
}

type outputJSON struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int   `json:"shape"`
	Data  []any   `json:"data"`
	Top   []class `json:"top,omitempty"`
}

type class struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// classScores returns the scores of a float output shaped [1,C] or [C]
// (C >= 1), else nil.
func classScores(t *tensor.Tensor) []float64 {
	if !t.DType().IsFloat() {
		return nil
	}
	s := t.Shape()
	if !(len(s) == 1 || len(s) == 2 && s[0] == 1) || t.Len() == 0 {
		return nil
	}
	return t.Float64s()
}

// topK returns the k best scores, highest first (NaN last), ties by
// index.
func topK(scores []float64, k int) []class {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		if math.IsNaN(scores[i]) {
			return math.Inf(-1)
		}
		return scores[i]
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(idx[a]) > key(idx[b]) })
	k = min(k, len(idx))
	out := make([]class, k)
	for i := range out {
		out[i] = class{Index: idx[i], Score: scores[idx[i]]}
	}
	return out
}

// rowArgmax lists the best column of each row of a [N,C] tensor.
func rowArgmax(t *tensor.Tensor) string {
	v := t.Float64s()
	c := t.Shape()[1]
	parts := make([]string, t.Shape()[0])
	for r := range parts {
		parts[r] = strconv.Itoa(topK(v[r*c:(r+1)*c], 1)[0].Index)
	}
	return strings.Join(parts, " ")
}

// jsonValues returns a tensor's elements for JSON: numbers (floats in their
// shortest form for the type), bools, strings; NaN and infinities, which
// JSON cannot hold, as the strings "NaN", "Infinity", "-Infinity".
func jsonValues(t *tensor.Tensor) []any {
	n := t.Len()
	out := make([]any, n)
	bits := 64
	if t.DType() != tensor.Float64 {
		bits = 32
	}
	for i := range n {
		v, _ := t.At(i)
		switch x := v.(type) {
		case float64:
			switch {
			case math.IsNaN(x):
				out[i] = "NaN"
			case math.IsInf(x, 1):
				out[i] = "Infinity"
			case math.IsInf(x, -1):
				out[i] = "-Infinity"
			default:
				out[i] = json.Number(strconv.FormatFloat(x, 'g', -1, bits))
			}
		default:
			out[i] = x
		}
	}
	return out
}

// formatFloat prints a score compactly.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// Printing follows numpy: nested brackets, one row per line, and for
// large tensors (more than summarizeAbove elements) only the first and
// last edgeItems entries of each dimension around "...".
const (
	summarizeAbove = 100
	edgeItems      = 3
	lineWidth      = 120
)

// formatValues prints a tensor's values numpy-style.
func formatValues(t *tensor.Tensor, full bool) string {
	shape := t.Shape()
	if t.Len() == 0 {
		return strings.Repeat("[", max(len(shape), 1)) + strings.Repeat("]", max(len(shape), 1))
	}
	if len(shape) == 0 {
		return formatElem(t, 0, false)
	}
	p := &valuePrinter{t: t, shape: shape, strides: tensor.Strides(shape), summarize: !full && t.Len() > summarizeAbove}
	// Like numpy, use scientific notation when the shown magnitudes call
	// for it, then align columns to the widest element.
	if t.DType().IsFloat() {
		lo, hi := math.Inf(1), 0.0
		p.visit(0, 0, func(i int) {
			v, _ := t.At(i)
			a := math.Abs(v.(float64))
			if a != 0 && !math.IsInf(a, 0) && !math.IsNaN(a) {
				lo, hi = min(lo, a), max(hi, a)
			}
		})
		p.sci = hi >= 1e8 || lo < 1e-4 || hi > 1e3*lo
	}
	p.visit(0, 0, func(i int) { p.width = max(p.width, len(formatElem(t, i, p.sci))) })
	var b strings.Builder
	p.write(&b, 0, 0, "")
	return b.String()
}

type valuePrinter struct {
	t         *tensor.Tensor
	shape     []int
	strides   []int
	summarize bool
	sci       bool
	width     int
}

// shown lists the indices of dimension d that are printed; -1 marks "...".
func (p *valuePrinter) shown(d int) []int {
	n := p.shape[d]
	if !p.summarize || n <= 2*edgeItems {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := []int{}
	for i := 0; i < edgeItems; i++ {
		idx = append(idx, i)
	}
	idx = append(idx, -1)
	for i := n - edgeItems; i < n; i++ {
		idx = append(idx, i)
	}
	return idx
}

func (p *valuePrinter) visit(d, off int, f func(int)) {
	for _, i := range p.shown(d) {
		if i < 0 {
			continue
		}
		if d == len(p.shape)-1 {
			f(off + i)
		} else {
			p.visit(d+1, off+i*p.strides[d], f)
		}
	}
}

func (p *valuePrinter) write(b *strings.Builder, d, off int, indent string) {
	b.WriteByte('[')
	idx := p.shown(d)
	if d == len(p.shape)-1 {
		col := len(indent) + 1
		for k, i := range idx {
			s := "..."
			if i >= 0 {
				s = formatElem(p.t, off+i, p.sci)
				s = strings.Repeat(" ", p.width-len(s)) + s
			}
			if k > 0 {
				if col+1+len(s) > lineWidth {
					b.WriteString("\n" + indent + " ")
					col = len(indent) + 1
				} else {
					b.WriteByte(' ')
					col++
				}
			}
			b.WriteString(s)
			col += len(s)
		}
		b.WriteByte(']')
		return
	}
	sep := "\n" + strings.Repeat("\n", len(p.shape)-d-2) + indent + " "
	for k, i := range idx {
		if k > 0 {
			b.WriteString(sep)
		}
		if i < 0 {
			b.WriteString("...")
			continue
		}
		p.write(b, d+1, off+i*p.strides[d], indent+" ")
	}
	b.WriteByte(']')
}

// formatElem prints element i: floats with 6 significant digits, or in
// scientific notation with 5.
func formatElem(t *tensor.Tensor, i int, sci bool) string {
	v, _ := t.At(i)
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Inf"
		case math.IsInf(x, -1):
			return "-Inf"
		}
		if sci {
			return strconv.FormatFloat(x, 'e', 4, 64)
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v)
}
