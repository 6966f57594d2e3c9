package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train/data"
)

const evalSynopsis = `usage: infer eval --data KIND:PATH [flags] MODEL

Runs MODEL, a classifier, on labelled data and prints its accuracy and the
confusion matrix (rows: true class, columns: predicted class) with each
class's precision and recall. The data's inputs feed the model's first
input; the prediction is the argmax of its first output ([N,C] scores), or
score > --threshold for one-unit outputs ([N] or [N,1]). Data sources are
those of infer train; images take the layout, channels and size of the
model's input.

examples:
  infer eval --data mnist:data/mnist models/mnist-cnn/model.onnx
  infer eval --data cifar10:data/cifar10 --limit 1000 --json cifar.onnx
  infer eval --data csv:xor.csv --split all xor.onnx`

type evalOptions struct {
	data, split          string
	limit, batch         int
	threads              int
	threshold            float64
	json                 bool
	progress             string
	pixelScale, pixelOff float64
}

func cmdEval(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "eval", &code)
	o := evalOptions{}
	fs := newFlagSet("eval", evalSynopsis, stderr)
	fs.StringVar(&o.data, "data", "", "the labelled data, `KIND:PATH` (required)")
	fs.StringVar(&o.split, "split", "test", "the data `split` (one-file kinds such as csv and npz: all)")
	fs.IntVar(&o.limit, "limit", 0, "evaluate only the first `N` examples (0: all)")
	fs.IntVar(&o.batch, "batch", 256, "examples per run (a model with a fixed batch size uses its own)")
	fs.IntVar(&o.threads, "threads", 0, "compute threads (0: all cores)")
	fs.Float64Var(&o.threshold, "threshold", 0.5, "class 1 when a one-unit output exceeds this `score`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object {accuracy, n, correct, classes, confusion, per_class, seconds}")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar: `auto|on|off` (auto: when stderr is a terminal)")
	fs.Float64Var(&o.pixelScale, "pixel-scale", 0, "image pixels p become p*scale+offset (0: 1/255)")
	fs.Float64Var(&o.pixelOff, "pixel-offset", 0, "see --pixel-scale")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	fail := failFunc("eval", stderr)
	explicitSplit := false
	fs.Visit(func(f *flag.Flag) { explicitSplit = explicitSplit || f.Name == "split" })
	switch {
	case len(pos) != 1:
		return fail(usagef("want one MODEL, got %d arguments", len(pos)))
	case o.data == "":
		return fail(usagef("no --data KIND:PATH given"))
	case !strings.Contains(o.data, ":"):
		return fail(usagef("--data %q is not KIND:PATH (kinds: %s)", o.data, strings.Join(data.Kinds, ", ")))
	case o.limit < 0 || o.batch <= 0 || o.threads < 0:
		return fail(usagef("--limit and --threads must not be negative, --batch must be positive"))
	}
	if o.progress != "auto" && o.progress != "on" && o.progress != "off" {
		return fail(usagef("--progress must be auto, on or off, not %q", o.progress))
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	ins := dataInputs(m)
	if len(ins) != 1 {
		return fail(fmt.Errorf("the model has %d inputs (%s); infer eval feeds exactly one", len(ins), inputNames(ins)))
	}
	vi := ins[0]
	sess, err := compileModel(m, o.threads)
	if err != nil {
		return fail(err)
	}
	outName := sess.Outputs()[0].Name
	ds, err := openSplit(o.data, o.split, explicitSplit, dataOptions(vi, o.limit, o.pixelScale, o.pixelOff))
	if err != nil {
		return fail(err)
	}
	n := ds.Len()
	if n == 0 {
		return fail(fmt.Errorf("%s holds no examples", o.data))
	}
	bs := min(o.batch, n)
	if s := vi.Type.Shape; len(s) > 0 && s[0].Known() && s[0].Size > 0 {
		bs = int(s[0].Size) // a fixed batch: pad the last one
	}

	ctx, stop := interruptContext()
	defer stop()
	start := time.Now()
	var preds, labels []int
	bar := newProgress(showProgress(o.progress, stderr), stderr, (n+bs-1)/bs, "eval", "batches")
	for lo := 0; lo < n; lo += bs {
		idx := make([]int, 0, bs)
		for i := lo; i < min(lo+bs, n); i++ {
			idx = append(idx, i)
		}
		real := len(idx)
		for len(idx) < bs {
			idx = append(idx, idx[len(idx)-1])
		}
		b, err := ds.Batch(idx)
		if err != nil {
			bar.clear()
			return fail(err)
		}
		if b[data.Label] == nil || b[data.Input] == nil {
			bar.clear()
			return fail(fmt.Errorf("%s gave %v, want %q and %q", o.data, keys(b), data.Input, data.Label))
		}
		x, err := fitDType(b[data.Input], vi, nil)
		if err != nil {
			bar.clear()
			return fail(fmt.Errorf("data input for %q: %w", vi.Name, err))
		}
		outs, err := sess.Run(ctx, map[string]*tensor.Tensor{vi.Name: x})
		if err != nil {
			bar.clear()
			if ctx.Err() != nil {
				return fail(errors.New("interrupted"))
			}
			return fail(fmt.Errorf("run: %w", err))
		}
		p, err := predictions(outs[outName], o.threshold)
		if err != nil {
			bar.clear()
			return fail(fmt.Errorf("output %q: %w", outName, err))
		}
		l, err := classLabels(b[data.Label])
		if err != nil {
			bar.clear()
			return fail(err)
		}
		if len(p) != len(idx) || len(l) != len(idx) {
			bar.clear()
			return fail(fmt.Errorf("output %q gives %d predictions and the data %d labels for %d examples", outName, len(p), len(l), len(idx)))
		}
		preds = append(preds, p[:real]...)
		labels = append(labels, l[:real]...)
		bar.add("")
	}
	bar.clear()
	res := confusion(preds, labels, classNames(ds))
	res.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	if o.json {
		// One line: the matrix would take a line per number indented.
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return fail(err)
		}
		return 0
	}
	printConfusion(stdout, res)
	fmt.Fprintf(stderr, "evaluated %d examples in %.2fs\n", res.N, res.Seconds)
	return 0
}

// predictions returns the predicted class of each example: the argmax of
// [N,C] scores (C > 1), else score > threshold for [N] or [N,1].
func predictions(t *tensor.Tensor, threshold float64) ([]int, error) {
	if t == nil || !t.DType().IsFloat() || t.Rank() == 0 || t.Rank() > 2 {
		return nil, fmt.Errorf("want float class scores [N,C], [N,1] or [N], got %v", describeTensor(t))
	}
	v := t.Float64s()
	n := t.Shape()[0]
	c := 1
	if t.Rank() == 2 {
		c = t.Shape()[1]
	}
	out := make([]int, n)
	for i := range out {
		row := v[i*c : (i+1)*c]
		if c == 1 {
			if row[0] > threshold {
				out[i] = 1
			}
			continue
		}
		out[i] = topK(row, 1)[0].Index
	}
	return out, nil
}

func describeTensor(t *tensor.Tensor) string {
	if t == nil {
		return "nothing"
	}
	return fmt.Sprintf("%v%v", t.DType(), t.Shape())
}

// classLabels returns the class of each example: integer labels [N] (or
// [N,1]), whole-number float labels, or one-hot rows [N,C].
func classLabels(t *tensor.Tensor) ([]int, error) {
	s := t.Shape()
	if t.Rank() == 0 {
		return nil, fmt.Errorf("labels are a scalar")
	}
	n := s[0]
	per := t.Len() / max(n, 1)
	out := make([]int, n)
	if per > 1 {
		if t.Rank() != 2 || !t.DType().IsFloat() {
			return nil, fmt.Errorf("labels %v: want class indices [N] or one-hot rows [N,C]", describeTensor(t))
		}
		v := t.Float64s()
		for i := range out {
			out[i] = topK(v[i*per:(i+1)*per], 1)[0].Index
		}
		return out, nil
	}
	v := t.Float64s()
	for i, x := range v {
		if x != math.Trunc(x) || x < 0 {
			return nil, fmt.Errorf("label %v is not a class index (infer eval scores classifiers)", x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// classNames returns the data set's class names, if it has them.
func classNames(ds data.Dataset) []string {
	if c, ok := ds.(data.ClassNamer); ok {
		return c.Classes()
	}
	return nil
}

// evalJSON is the result of infer eval.
type evalJSON struct {
	Accuracy  float64        `json:"accuracy"`
	N         int            `json:"n"`
	Correct   int            `json:"correct"`
	Classes   []string       `json:"classes"`
	Confusion [][]int        `json:"confusion"` // [label][prediction]
	PerClass  []classMetrics `json:"per_class"`
	Seconds   float64        `json:"seconds"`
}

type classMetrics struct {
	Class     string   `json:"class"`
	Support   int      `json:"support"` // examples of the class
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
}

// confusion counts predictions against labels.
func confusion(preds, labels []int, names []string) evalJSON {
	k := len(names)
	for i := range preds {
		k = max(k, preds[i]+1, labels[i]+1)
	}
	res := evalJSON{N: len(preds), Confusion: make([][]int, k), Classes: make([]string, k)}
	for c := range res.Confusion {
		res.Confusion[c] = make([]int, k)
		res.Classes[c] = fmt.Sprint(c)
		if c < len(names) {
			res.Classes[c] = names[c]
		}
	}
	for i, p := range preds {
		res.Confusion[labels[i]][p]++
		if p == labels[i] {
			res.Correct++
		}
	}
	res.Accuracy = float64(res.Correct) / float64(max(res.N, 1))
	for c := 0; c < k; c++ {
		predicted := 0
		for r := 0; r < k; r++ {
			predicted += res.Confusion[r][c]
		}
		support := 0
		for _, v := range res.Confusion[c] {
			support += v
		}
		m := classMetrics{Class: res.Classes[c], Support: support}
		if predicted > 0 {
			m.Precision = jf(float64(res.Confusion[c][c]) / float64(predicted))
		}
		if support > 0 {
			m.Recall = jf(float64(res.Confusion[c][c]) / float64(support))
		}
		res.PerClass = append(res.PerClass, m)
	}
	return res
}

// printConfusion prints the accuracy, the confusion matrix and the
// per-class metrics.
func printConfusion(w io.Writer, r evalJSON) {
	fmt.Fprintf(w, "accuracy %.4f (%d/%d)\n\n", r.Accuracy, r.Correct, r.N)
	width := 5
	for _, name := range r.Classes {
		width = max(width, len(name))
	}
	for _, row := range r.Confusion {
		for _, v := range row {
			width = max(width, len(fmt.Sprint(v)))
		}
	}
	fmt.Fprintln(w, "confusion matrix (rows: true class, columns: predicted class):")
	fmt.Fprintf(w, "%*s", width, "")
	for _, name := range r.Classes {
		fmt.Fprintf(w, " %*s", width, name)
	}
	fmt.Fprintln(w)
	for c, row := range r.Confusion {
		fmt.Fprintf(w, "%*s", width, r.Classes[c])
		for _, v := range row {
			fmt.Fprintf(w, " %*d", width, v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%*s %9s %9s %9s\n", width, "class", "precision", "recall", "support")
	for _, m := range r.PerClass {
		fmt.Fprintf(w, "%*s %9s %9s %9d\n", width, m.Class, fmtMetric(m.Precision), fmtMetric(m.Recall), m.Support)
	}
}
