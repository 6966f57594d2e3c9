package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

const trainSynopsis = `usage: infer train --data KIND:PATH --loss LOSS --opt OPT --out OUT.onnx [flags] MODEL

Trains MODEL, an ONNX model with initial weights, on a labelled data set and
writes the trained inference model to OUT.onnx. The data's inputs feed the
model's first input; the loss compares the model's first output with the
labels (xent reads the logits: the input of a final Softmax).

Data (KIND:PATH): mnist:DIR, cifar10:PATH, imagefolder:DIR, npz:FILE,
npy:DIR, csv:FILE, imdb:PATH, speech:DIR. Images take the layout, channels
and size of the model's input.
Losses: xent (softmax cross-entropy; class indices or one-hot labels), nll
(on log-probabilities), bce (binary cross-entropy on probabilities), mse, l1.
Optimizers: sgd, momentum, nesterov, adam, adamw, adagrad.

A progress bar with rate and ETA goes to stderr (on a terminal), a line per
epoch to stdout. A checkpoint (an ONNX model with the weights, the
optimizer's state and the counters; default OUT.onnx.ckpt) is written
atomically after every epoch, at the end and on Ctrl-C. --resume continues
from it exactly where the run stopped; training flags not repeated are
taken from it. --steps counts the steps of all runs together.

examples:
  infer train --data mnist:data/mnist --loss xent --opt adam --epochs 2 --out mnist.onnx models/mnist-cnn/model.onnx
  infer train --data mnist:data/mnist --limit 12800 --init glorot --steps 200 --loss xent --opt adam --out m.onnx models/mnist-cnn/model.onnx
  infer train --data csv:xor.csv --val 0 --batch 4 --loss mse --opt adam --lr 0.1 --steps 1500 --out xor2.onnx xor.onnx
  infer train --resume --data csv:xor.csv --out xor2.onnx xor.onnx     # after Ctrl-C`

// Test hooks: the context that Ctrl-C cancels, and a call after every
// training step.
var (
	interruptContext = func() (context.Context, context.CancelFunc) {
		return signal.NotifyContext(context.Background(), os.Interrupt)
	}
	afterStep func(steps int)
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// fitOptions are the flags that infer train and infer finetune share.
type fitOptions struct {
	data, split, val     string
	limit                int
	loss, opt            string
	lr, momentum         float64
	weightDecay, clip    float64
	batch, epochs        int
	steps                int
	seed                 uint64
	threads              int
	freeze               listFlag
	checkpoint           string
	ckptEvery            time.Duration
	logEvery             int
	resume               bool
	earlyStop            int
	json                 bool
	out                  string
	progress             string
	pixelScale, pixelOff float64

	fs  *flag.FlagSet
	set map[string]bool // flags given on the command line
}

// hyperFlags are the flags a checkpoint records: --resume takes those not
// given again from it.
var hyperFlags = []string{"split", "val", "limit", "loss", "opt", "lr", "momentum", "weight-decay", "clip-norm",
	"batch", "epochs", "steps", "seed", "early-stop", "pixel-scale", "pixel-offset", "init",
	"cut", "classes", "freeze-before", "activation"}

// mustMatch are the recorded flags a resumed run cannot change.
var mustMatch = map[string]string{
	"opt":     "the optimizer's saved state belongs to it",
	"cut":     "the checkpoint holds a head attached there",
	"classes": "the checkpoint's head has that many outputs",
}

func (o *fitOptions) register(fs *flag.FlagSet, lossDefault, optDefault string) {
	o.fs = fs
	fs.StringVar(&o.data, "data", "", "the labelled data, `KIND:PATH` (required)")
	fs.StringVar(&o.split, "split", "train", "the data `split` to train on")
	fs.StringVar(&o.val, "val", "0.1", "validation data: a `fraction` of the training data held out, or a split name (0: none)")
	fs.IntVar(&o.limit, "limit", 0, "read only the first `N` examples of the data (0: all)")
	if lossDefault != "-" {
		fs.StringVar(&o.loss, "loss", lossDefault, "the loss: `xent|nll|bce|mse|l1`")
	}
	fs.StringVar(&o.opt, "opt", optDefault, "the optimizer: `sgd|momentum|nesterov|adam|adamw|adagrad`")
	fs.Float64Var(&o.lr, "lr", 1e-3, "learning `rate`")
	fs.Float64Var(&o.momentum, "momentum", 0.9, "momentum of --opt momentum and nesterov")
	fs.Float64Var(&o.weightDecay, "weight-decay", 0, "L2 weight decay (adamw: decoupled, default 0.01)")
	fs.Float64Var(&o.clip, "clip-norm", 0, "clip the gradients to this global L2 `norm` (0: no clipping)")
	fs.IntVar(&o.batch, "batch", 64, "`N` examples per batch")
	fs.IntVar(&o.epochs, "epochs", 0, "passes over the data (0: 1, or as many as --steps needs)")
	fs.IntVar(&o.steps, "steps", 0, "stop after `N` training steps in all (0: no limit)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the shuffling, the validation split and new weights")
	fs.IntVar(&o.threads, "threads", 0, "compute threads (0: all cores)")
	fs.Var(&o.freeze, "freeze", "do not train the parameters matching `PATTERN`: a name, a glob (conv1/*) or re:REGEXP (repeatable)")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint `FILE` (default: the --out path with .ckpt appended)")
	fs.BoolVar(&o.resume, "resume", false, "continue from the checkpoint")
	fs.DurationVar(&o.ckptEvery, "checkpoint-interval", 10*time.Second, "write epoch checkpoints at most this often (0: after every epoch; the end and Ctrl-C always write one)")
	fs.IntVar(&o.logEvery, "log-every", 0, "print every `N`th epoch line (0: all, or about 20 lines for runs of more than 50 epochs)")
	fs.IntVar(&o.earlyStop, "early-stop", 0, "stop after `N` epochs without a better validation loss (0: never)")
	fs.BoolVar(&o.json, "json", false, "print a final JSON object (epoch lines go to stderr)")
	fs.StringVar(&o.out, "out", "", "write the trained model to `OUT.onnx` (required)")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar: `auto|on|off` (auto: when stderr is a terminal)")
	fs.Float64Var(&o.pixelScale, "pixel-scale", 0, "image pixels p become p*scale+offset (0: 1/255)")
	fs.Float64Var(&o.pixelOff, "pixel-offset", 0, "see --pixel-scale")
}

// parse parses the flags and records which were given.
func (o *fitOptions) parse(args []string) ([]string, error) {
	pos, err := parseFlags(o.fs, args)
	if err != nil {
		return nil, err
	}
	o.set = map[string]bool{}
	o.fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return pos, nil
}

// checkpointPath returns the checkpoint file.
func (o *fitOptions) checkpointPath() string {
	if o.checkpoint != "" {
		return o.checkpoint
	}
	return o.out + ".ckpt"
}

// mergeCheckpoint applies the checkpoint's recorded flags that were not
// given again, and refuses changes of those a resumed run cannot change.
func (o *fitOptions) mergeCheckpoint(meta *checkpointMeta, note func(string, ...any)) error {
	names := make([]string, 0, len(meta.Flags))
	for name := range meta.Flags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		saved := meta.Flags[name]
		f := o.fs.Lookup(name)
		if f == nil {
			continue
		}
		if !o.set[name] {
			if err := o.fs.Set(name, saved); err != nil {
				return fmt.Errorf("checkpoint flag --%s=%s: %v", name, saved, err)
			}
			if name == "weight-decay" {
				o.set[name] = true // the recorded value is the one in force
			}
			continue
		}
		if cur := f.Value.String(); cur != saved {
			if why, ok := mustMatch[name]; ok {
				return usagef("--%s %s differs from the checkpoint's %s (%s); drop --resume to start over", name, cur, saved, why)
			}
			note("--%s %s differs from the checkpoint's %s; using %s", name, cur, saved, cur)
		}
	}
	if !o.set["freeze"] {
		o.freeze = append(listFlag(nil), meta.Freeze...)
	}
	return nil
}

// recordFlags returns the values of the recorded flags.
func (o *fitOptions) recordFlags() map[string]string {
	out := map[string]string{}
	for _, name := range hyperFlags {
		if f := o.fs.Lookup(name); f != nil {
			out[name] = f.Value.String()
		}
	}
	out["weight-decay"] = strconv.FormatFloat(o.decay(), 'g', -1, 64) // the value in force
	return out
}

// check validates the options (usage errors).
func (o *fitOptions) check() error {
	switch {
	case o.data == "":
		return usagef("no --data KIND:PATH given")
	case !strings.Contains(o.data, ":"):
		return usagef("--data %q is not KIND:PATH (kinds: %s)", o.data, strings.Join(data.Kinds, ", "))
	case o.out == "":
		return usagef("no --out OUT.onnx given")
	case o.loss == "":
		return usagef("no --loss given (xent, nll, bce, mse or l1)")
	case o.opt == "":
		return usagef("no --opt given (sgd, momentum, nesterov, adam, adamw or adagrad)")
	case !(o.lr > 0) || math.IsInf(o.lr, 0):
		return usagef("--lr must be positive, not %v", o.lr)
	case o.batch <= 0:
		return usagef("--batch must be positive, not %d", o.batch)
	case o.epochs < 0 || o.steps < 0 || o.limit < 0 || o.threads < 0 || o.earlyStop < 0 || o.logEvery < 0 || o.ckptEvery < 0:
		return usagef("--epochs, --steps, --limit, --threads, --early-stop, --log-every and --checkpoint-interval must not be negative")
	case o.weightDecay < 0 || o.clip < 0 || o.momentum < 0:
		return usagef("--weight-decay, --clip-norm and --momentum must not be negative")
	}
	switch o.loss {
	case "xent", "nll", "bce", "mse", "l1":
	default:
		return usagef("unknown --loss %q (xent, nll, bce, mse or l1)", o.loss)
	}
	if _, err := o.optimizer(); err != nil {
		return err
	}
	switch o.progress {
	case "auto", "on", "off":
	default:
		return usagef("--progress must be auto, on or off, not %q", o.progress)
	}
	if f, err := strconv.ParseFloat(o.val, 64); err == nil && !(f >= 0 && f < 1) {
		return usagef("--val must be a fraction in [0, 1) or a split name, not %s", o.val)
	}
	return nil
}

// optimizer builds the optimizer of --opt.
func (o *fitOptions) optimizer() (train.Optimizer, error) {
	switch o.opt {
	case "sgd":
		s := train.NewSGD(o.lr)
		s.WeightDecay = o.weightDecay
		return s, nil
	case "momentum", "nesterov":
		s := train.NewMomentum(o.lr, o.momentum, o.opt == "nesterov")
		s.WeightDecay = o.weightDecay
		return s, nil
	case "adam":
		a := train.NewAdam(o.lr)
		a.WeightDecay = o.weightDecay
		return a, nil
	case "adamw":
		return train.NewAdamW(o.lr, o.decay()), nil
	case "adagrad":
		a := train.NewAdagrad(o.lr)
		a.WeightDecay = o.weightDecay
		return a, nil
	}
	return nil, usagef("unknown --opt %q (sgd, momentum, nesterov, adam, adamw or adagrad)", o.opt)
}

// decay returns the weight decay: --weight-decay, or 0.01 for adamw when
// it is not given.
func (o *fitOptions) decay() float64 {
	if o.opt == "adamw" && !o.set["weight-decay"] {
		return 0.01
	}
	return o.weightDecay
}

// showProgress decides whether to draw a progress bar on w.
func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on stderr, or nothing.
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(on bool, w io.Writer, total int, desc, unit string) progress {
	if !on || total <= 0 {
		return progress{}
	}
	return progress{progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

// add advances the bar by one and sets its description (shown from the
// next drawing on: drawings are throttled).
func (p progress) add(desc string) {
	if p.bar != nil {
		p.bar.Add(1)
		if desc != "" {
			p.bar.Describe(desc)
		}
	}
}

// clear removes the bar from the terminal.
func (p progress) clear() {
	if p.bar != nil {
		p.bar.Clear()
		p.bar.Exit()
	}
}

func cmdTrain(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "train", &code)
	o := &fitOptions{}
	fs := newFlagSet("train", trainSynopsis, stderr)
	o.register(fs, "", "")
	var init string
	fs.StringVar(&init, "init", "keep", "initial weights: `keep|glorot` (glorot: new Glorot-uniform weights of Conv, Gemm and MatMul and zero biases, from --seed)")
	pos, err := o.parse(args)
	if err != nil {
		return parseOutcome(err)
	}
	fail := failFunc("train", stderr)
	if len(pos) != 1 {
		return fail(usagef("want one MODEL, got %d arguments", len(pos)))
	}
	job := &fitJob{name: "train", o: o, modelPath: pos[0]}
	if err := job.prepareResume(stderr); err != nil {
		return fail(err)
	}
	if init != "keep" && init != "glorot" {
		return fail(usagef("--init must be keep or glorot, not %q", init))
	}
	if err := o.check(); err != nil {
		return fail(err)
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	job.model = m
	if job.output, err = firstOutput(m); err != nil {
		return fail(err)
	}
	if init == "glorot" && job.resumeFrom == nil {
		job.reinit = true
	}
	return job.run(stdout, stderr)
}

// failFunc prints an error of subcommand name and returns its exit status.
func failFunc(name string, stderr io.Writer) func(error) int {
	return func(err error) int {
		fmt.Fprintf(stderr, "infer %s: %v\n", name, err)
		if exitCode(err) == 2 {
			fmt.Fprintf(stderr, "Run 'infer %s -h' for usage.\n", name)
		}
		return exitCode(err)
	}
}

// firstOutput returns the name of the model's first output.
func firstOutput(m *graph.Model) (string, error) {
	if len(m.Graph.Outputs) == 0 {
		return "", errors.New("the model has no outputs")
	}
	return m.Graph.Outputs[0].Name, nil
}

// dataInputs returns the model's inputs that are not initializers (old
// models list their initializers as inputs too).
func dataInputs(m *graph.Model) []graph.ValueInfo {
	var out []graph.ValueInfo
	for _, in := range m.Graph.Inputs {
		if !m.Graph.IsInitializer(in.Name) {
			out = append(out, in)
		}
	}
	return out
}

// softmaxInput returns the input of the Softmax node producing value (its
// logits), or "" when value does not come from a Softmax.
func softmaxInput(g *graph.Graph, value string) string {
	for _, n := range g.Nodes {
		if n.OpType == "Softmax" && ops.NormDomain(n.Domain) == "" && len(n.Outputs) > 0 && n.Outputs[0] == value && len(n.Inputs) > 0 {
			return n.Inputs[0]
		}
	}
	return ""
}

// dataOptions returns the loader options that suit the model input vi:
// image layout, channels and size from its shape.
func dataOptions(vi graph.ValueInfo, limit int, scale, offset float64) data.Options {
	opts := data.Options{Limit: limit, PixelScale: float32(scale), PixelOffset: float32(offset)}
	if vi.Type.Shape == nil || len(vi.Type.Shape) != 4 {
		return opts
	}
	l, err := layoutFor(vi, "")
	if err != nil {
		return opts
	}
	if l.nhwc {
		opts.Layout = "NHWC"
	}
	if vi.Type.Shape[l.cAxis].Known() {
		opts.Channels = l.channels
	}
	if l.height > 0 && l.width > 0 {
		opts.Size = [2]int{l.height, l.width}
	}
	return opts
}

// openData opens the training data and the validation data of --val.
func openData(o *fitOptions, vi graph.ValueInfo) (trainSet, valSet data.Dataset, err error) {
	opts := dataOptions(vi, o.limit, o.pixelScale, o.pixelOff)
	ds, err := openSplit(o.data, o.split, o.set["split"], opts)
	if err != nil {
		return nil, nil, err
	}
	if ds.Len() == 0 {
		return nil, nil, fmt.Errorf("%s (split %q) holds no examples", o.data, o.split)
	}
	f, err := strconv.ParseFloat(o.val, 64)
	if err != nil { // a split name
		vs, err := data.Open(o.data, o.val, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("--val %s: %w", o.val, err)
		}
		return ds, vs, nil
	}
	if f == 0 || ds.Len() < 2 {
		return ds, nil, nil
	}
	tr, vs := data.Split(ds, f, o.seed)
	return tr, vs, nil
}

// openSplit opens a split of a data source; a default split that a
// one-file kind (csv, npz without split arrays) does not have means the
// whole file.
func openSplit(source, split string, explicit bool, opts data.Options) (data.Dataset, error) {
	ds, err := data.Open(source, split, opts)
	if err != nil && !explicit && split != "" && strings.Contains(err.Error(), "split") {
		if all, err2 := data.Open(source, "", opts); err2 == nil {
			return all, nil
		}
	}
	return ds, err
}

// feedSet turns a data set's batches ("input", "label") into feeds of the
// training graph: the model's first input and the loss's label, converted
// to their element types and shapes.
type feedSet struct {
	ds           data.Dataset
	input, label graph.ValueInfo
}

func (f *feedSet) Len() int { return f.ds.Len() }

func (f *feedSet) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	b, err := f.ds.Batch(idx)
	if err != nil {
		return nil, err
	}
	x, y := b[data.Input], b[data.Label]
	if x == nil || y == nil {
		return nil, fmt.Errorf("the data gave %v, want %q and %q", keys(b), data.Input, data.Label)
	}
	if x, err = fitDType(x, f.input, nil); err != nil {
		return nil, fmt.Errorf("data input for %q: %w", f.input.Name, err)
	}
	if y, err = fitLabel(y, f.label); err != nil {
		return nil, err
	}
	return map[string]*tensor.Tensor{f.input.Name: x, f.label.Name: y}, nil
}

func keys(m map[string]*tensor.Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fitLabel converts labels to the label input's element type (class
// indices must be whole numbers) and adds or drops a trailing axis of 1
// when the declared shape asks for it ([N] labels for [N,1] outputs).
func fitLabel(y *tensor.Tensor, vi graph.ValueInfo) (*tensor.Tensor, error) {
	want := vi.Type.DType
	if want != tensor.Undefined && y.DType() != want {
		if want.IsInt() && y.DType().IsFloat() {
			for _, v := range y.Float64s() {
				if v != math.Trunc(v) {
					return nil, fmt.Errorf("the labels are not class indices (%v); this loss wants integer classes", v)
				}
			}
		}
		c, err := y.Cast(want)
		if err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		y = c
	}
	s := vi.Type.Shape
	switch {
	case s == nil:
	case len(s) == y.Rank()+1 && s[len(s)-1].Size == 1:
		return y.Reshape(append(append([]int(nil), y.Shape()...), 1)...)
	case len(s) == y.Rank()-1 && y.Rank() >= 2 && y.Shape()[y.Rank()-1] == 1:
		return y.Reshape(y.Shape()[:y.Rank()-1]...)
	}
	return y, nil
}

// freshName returns base, or base with a suffix, unused in m.
func freshName(m *graph.Model, base string) string {
	used := map[string]bool{}
	for _, in := range m.Graph.Inputs {
		used[in.Name] = true
	}
	for name := range m.Graph.Initializers {
		used[name] = true
	}
	for _, n := range m.Graph.Nodes {
		for _, o := range n.Outputs {
			used[o] = true
		}
	}
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// buildLoss returns the loss of --loss on output, for labels like y.
func buildLoss(kind string, m *graph.Model, output, label string, y *tensor.Tensor, note func(string, ...any)) train.Loss {
	switch kind {
	case "xent":
		if logits := softmaxInput(m.Graph, output); logits != "" {
			note("xent reads the logits %q, the input of the Softmax that gives %q", logits, output)
			output = logits
		}
		if y.DType().IsFloat() && y.Rank() == 2 && y.Shape()[1] > 1 {
			return train.SoftmaxCrossEntropyOneHot(output, label)
		}
		return train.SoftmaxCrossEntropy(output, label)
	case "nll":
		return train.NLL(output, label)
	case "bce":
		return train.BCE(output, label)
	case "mse":
		return train.MSE(output, label)
	}
	return train.L1(output, label)
}

// glorotInit gives the weights of the Conv, ConvTranspose, Gemm and MatMul
// nodes of m new Glorot-uniform values (Keras' default: U(-l, l), l =
// sqrt(6/(fan_in+fan_out))) and their biases zeros, seeded, skipping the
// names in keep. It returns the names changed.
func glorotInit(m *graph.Model, seed uint64, keep func(string) bool) []string {
	g := m.Graph
	rng := rand.New(rand.NewPCG(seed, 0x9107))
	var changed []string
	done := map[string]bool{}
	set := func(name string, v []float64) {
		t := g.Initializers[name]
		nt, err := tensor.From(t.Shape(), v).Cast(t.DType())
		if err == nil {
			g.Initializers[name] = nt
			changed = append(changed, name)
		}
	}
	weight := func(name string, fanIn, fanOut int) {
		t, ok := g.Initializers[name]
		if !ok || done[name] || !t.DType().IsFloat() || keep(name) || fanIn+fanOut == 0 {
			return
		}
		done[name] = true
		lim := math.Sqrt(6 / float64(fanIn+fanOut))
		v := make([]float64, t.Len())
		for i := range v {
			v[i] = (2*rng.Float64() - 1) * lim
		}
		set(name, v)
	}
	zero := func(name string) {
		t, ok := g.Initializers[name]
		if !ok || done[name] || !t.DType().IsFloat() || keep(name) || t.Rank() != 1 {
			return
		}
		done[name] = true
		set(name, make([]float64, t.Len()))
	}
	producer := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
	}
	for _, n := range g.Nodes {
		in := func(i int) string {
			if i < len(n.Inputs) {
				return n.Inputs[i]
			}
			return ""
		}
		switch n.OpType {
		case "Conv", "ConvTranspose":
			if t, ok := g.Initializers[in(1)]; ok && t.Rank() >= 3 {
				s := t.Shape()
				field := t.Len() / (s[0] * s[1])
				weight(in(1), s[1]*field, s[0]*field)
			}
			zero(in(2))
		case "Gemm", "MatMul":
			for _, i := range []int{0, 1} {
				if t, ok := g.Initializers[in(i)]; ok && t.Rank() == 2 {
					weight(in(i), t.Shape()[0], t.Shape()[1])
				}
			}
			if n.OpType == "Gemm" {
				zero(in(2))
			}
		case "Add":
			// The bias after a MatMul.
			for _, i := range []int{0, 1} {
				if p := producer[in(1-i)]; p != nil && p.OpType == "MatMul" {
					zero(in(i))
				}
			}
		}
	}
	sort.Strings(changed)
	return changed
}

// checkpointKey is the metadata key of a checkpoint's counters and flags;
// optimizerPrefix prefixes the optimizer slots stored as initializers.
const (
	checkpointKey   = "onyx.checkpoint"
	optimizerPrefix = "onyx.checkpoint.optimizer/"
)

// checkpointMeta is what a checkpoint records besides tensors.
type checkpointMeta struct {
	Version int               `json:"version"`
	Command string            `json:"command"`
	Model   string            `json:"model"`
	Data    string            `json:"data"`
	Flags   map[string]string `json:"flags"`
	Freeze  []string          `json:"freeze,omitempty"`
	State   fitState          `json:"state"`
}

// fitState are the loop's counters: where training stands, and the sums
// of the epoch in progress.
type fitState struct {
	Epoch     int         `json:"epoch"` // the epoch in progress, 1-based
	Batch     int         `json:"batch"` // batches of it done
	Steps     int         `json:"steps"`
	LossSum   float64     `json:"loss_sum"` // over the examples of the epoch in progress
	Seen      int         `json:"seen"`
	Correct   int         `json:"correct"`
	Total     int         `json:"total"`
	NoAcc     bool        `json:"no_accuracy,omitempty"`
	Best      *float64    `json:"best,omitempty"` // best monitored loss (early stopping)
	Wait      int         `json:"wait"`
	FirstLoss *float64    `json:"first_loss,omitempty"`
	Stopped   bool        `json:"stopped,omitempty"` // early stopping ended the training
	History   []epochJSON `json:"history"`
}

// epochJSON describes one epoch (or the part of one that was trained).
type epochJSON struct {
	Epoch       int      `json:"epoch"`
	Loss        *float64 `json:"loss"`
	Accuracy    *float64 `json:"accuracy"`
	ValLoss     *float64 `json:"val_loss"`
	ValAccuracy *float64 `json:"val_accuracy"`
	Steps       int      `json:"steps"` // steps done at its end
	Seconds     float64  `json:"seconds"`
	Partial     bool     `json:"partial,omitempty"`
}

// jf returns v for JSON, nil when it is NaN or infinite.
func jf(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// fmtLoss prints an optional loss.
func fmtLoss(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'g', 4, 64)
}

// fmtMetric prints an optional metric.
func fmtMetric(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

// readCheckpoint loads a checkpoint file.
func readCheckpoint(path string) (*graph.Model, *checkpointMeta, error) {
	m, err := loadModel(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	raw, ok := m.Metadata[checkpointKey]
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a checkpoint of infer train (no %q metadata)", path, checkpointKey)
	}
	meta := &checkpointMeta{}
	if err := json.Unmarshal([]byte(raw), meta); err != nil {
		return nil, nil, fmt.Errorf("%s: bad checkpoint metadata: %w", path, err)
	}
	if meta.Version != 1 {
		return nil, nil, fmt.Errorf("%s: checkpoint version %d, this infer reads version 1", path, meta.Version)
	}
	return m, meta, nil
}

// writeFileAtomic writes data to path through a temporary file in the
// same folder, synced and then renamed, so that path always holds either
// the old or the new contents.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// fitJob is one run of infer train or infer finetune.
type fitJob struct {
	name      string // "train" or "finetune"
	o         *fitOptions
	modelPath string
	model     *graph.Model // the model to train (for finetune: with the new head)
	output    string       // the model output the loss reads
	// freezeBefore freezes the parameters that only feed nodes upstream
	// of this value.
	freezeBefore string
	reinit       bool
	// export turns the trained model into the one written to --out (nil:
	// as it is).
	export func(*graph.Model) (*graph.Model, error)

	resumeFrom *graph.Model // the checkpoint's model, with --resume
	meta       *checkpointMeta
}

// prepareResume reads the checkpoint of --resume and takes the flags not
// given again from it. It must run before the options are checked.
func (j *fitJob) prepareResume(stderr io.Writer) error {
	o := j.o
	if !o.resume {
		return nil
	}
	if o.out == "" && o.checkpoint == "" {
		return usagef("--resume needs --checkpoint FILE or --out OUT.onnx (whose checkpoint is OUT.onnx.ckpt)")
	}
	path := o.checkpointPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--resume: there is no checkpoint %s (run without --resume to start training)", path)
	}
	m, meta, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	if meta.Command != j.name {
		return usagef("%s is a checkpoint of infer %s, not infer %s", path, meta.Command, j.name)
	}
	note := func(format string, args ...any) { fmt.Fprintf(stderr, "note: "+format+"\n", args...) }
	if err := o.mergeCheckpoint(meta, note); err != nil {
		return err
	}
	if o.data == "" {
		o.data = meta.Data
	} else if o.data != meta.Data {
		note("--data %s differs from the checkpoint's %s", o.data, meta.Data)
	}
	j.resumeFrom, j.meta = m, meta
	return nil
}

// fitRun is a training run under way: the trainer, the data and the
// loop's counters.
type fitRun struct {
	*fitJob
	stdout, stderr io.Writer
	lines          io.Writer // epoch lines: stdout, or stderr under --json
	tr             *train.Trainer
	trainSet       *feedSet
	valSet         *feedSet // nil without validation data
	st             fitState
	n, bs, nb      int // examples, batch size, batches per epoch
	maxEpochs      int // math.MaxInt32: as many as --steps needs
	logEvery       int
	ctx            context.Context
	stop           context.CancelFunc
}

// errInterrupted reports a Ctrl-C, after which a checkpoint was written.
var errInterrupted = errors.New("interrupted")

// run trains, checkpoints and exports; it returns the exit status.
func (j *fitJob) run(stdout, stderr io.Writer) int {
	fail := failFunc(j.name, stderr)
	r, err := j.setup(stdout, stderr)
	if err != nil {
		return fail(err)
	}
	r.ctx, r.stop = interruptContext()
	defer r.stop()
	start := time.Now()
	startSteps := r.st.Steps
	final, err := r.loop()
	if err != nil {
		if !errors.Is(err, errInterrupted) {
			return fail(err)
		}
		fmt.Fprintf(stderr, "interrupted at step %d (%s, batch %d/%d); checkpoint written to %s\nrun the same command with --resume to continue\n",
			r.st.Steps, r.epochName(r.st.Epoch), r.st.Batch, r.nb, j.o.checkpointPath())
		return 1
	}
	if err := r.report(final, startSteps, time.Since(start)); err != nil {
		return fail(err)
	}
	return 0
}

// setup opens the data, builds the loss, the optimizer and the trainer,
// and restores the checkpoint of --resume.
func (j *fitJob) setup(stdout, stderr io.Writer) (*fitRun, error) {
	o := j.o
	note := func(format string, args ...any) { fmt.Fprintf(stderr, "note: "+format+"\n", args...) }
	m := j.model
	ins := dataInputs(m)
	if len(ins) == 0 {
		return nil, errors.New("the model has no inputs")
	}
	if len(ins) > 1 {
		return nil, fmt.Errorf("the model has %d inputs (%s); infer %s feeds only one", len(ins), inputNames(ins), j.name)
	}
	input := ins[0]
	trainData, valData, err := openData(o, input)
	if err != nil {
		return nil, err
	}
	first, err := trainData.Batch([]int{0})
	if err != nil {
		return nil, err
	}
	if first[data.Label] == nil {
		return nil, fmt.Errorf("%s has no labels", o.data)
	}
	label := freshName(m, "label")
	loss := buildLoss(o.loss, m, j.output, label, first[data.Label], note)
	opt, err := o.optimizer()
	if err != nil {
		return nil, err
	}
	if j.reinit {
		m = cloneInitializers(m)
		changed := glorotInit(m, o.seed, func(name string) bool { return matchAny(o.freeze, name) })
		note("--init glorot: new values for %d initializers", len(changed))
	}
	tr, err := train.NewTrainer(m, train.TrainerOptions{
		Loss: loss, Optimizer: opt, Freeze: o.freeze, FreezeBefore: j.freezeBefore,
		Threads: o.threads, Seed: o.seed, ClipNorm: o.clip,
	})
	if err != nil {
		return nil, err
	}
	var labelVI graph.ValueInfo
	for _, f := range tr.Feeds() {
		switch f.Name {
		case label:
			labelVI = f
		case input.Name:
			input = f
		default:
			return nil, fmt.Errorf("the training graph also needs input %q, which infer %s cannot feed", f.Name, j.name)
		}
	}
	r := &fitRun{fitJob: j, stdout: stdout, stderr: stderr, lines: stdout, tr: tr, st: fitState{Epoch: 1}}
	if o.json {
		r.lines = stderr
	}
	r.trainSet = &feedSet{ds: trainData, input: input, label: labelVI}
	if valData != nil && valData.Len() > 0 {
		r.valSet = &feedSet{ds: valData, input: input, label: labelVI}
	}
	if j.resumeFrom != nil {
		state := train.TrainerState{Steps: j.meta.State.Steps, Values: map[string]*tensor.Tensor{}, Optimizer: map[string]*tensor.Tensor{}}
		for name, v := range j.resumeFrom.Graph.Initializers {
			if slot, ok := strings.CutPrefix(name, optimizerPrefix); ok {
				state.Optimizer[slot] = v
			} else {
				state.Values[name] = v
			}
		}
		if err := tr.SetState(state); err != nil {
			return nil, fmt.Errorf("resuming from %s: %w", o.checkpointPath(), err)
		}
		r.st = j.meta.State
		fmt.Fprintf(stderr, "resuming from %s: epoch %d, batch %d, step %d\n", o.checkpointPath(), r.st.Epoch, r.st.Batch, r.st.Steps)
	}

	r.n = r.trainSet.Len()
	r.bs = min(o.batch, r.n)
	r.nb = (r.n + r.bs - 1) / r.bs
	r.maxEpochs = o.epochs
	if r.maxEpochs == 0 {
		r.maxEpochs = 1
		if o.steps > 0 {
			r.maxEpochs = math.MaxInt32
		}
	}
	r.logEvery = o.logEvery
	if r.logEvery == 0 {
		total := r.maxEpochs
		if r.maxEpochs == math.MaxInt32 {
			total = (o.steps + r.nb - 1) / r.nb
		}
		r.logEvery = 1
		if total > 50 {
			r.logEvery = (total + 19) / 20
		}
	}

	params := tr.Params()
	fmt.Fprintf(stderr, "training %d parameter tensors (%s elements) of %s on %d examples", len(params), groupDigits(countElems(tr, params)), j.modelPath, r.n)
	if r.valSet != nil {
		fmt.Fprintf(stderr, ", validating on %d", r.valSet.Len())
	}
	fmt.Fprintln(stderr)
	return r, nil
}

// cloneInitializers returns a copy of m whose initializer map can be
// changed without touching m.
func cloneInitializers(m *graph.Model) *graph.Model {
	mm := *m
	g := *m.Graph
	g.Initializers = make(map[string]*tensor.Tensor, len(m.Graph.Initializers))
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	mm.Graph = &g
	return &mm
}

// matchAny reports whether name matches one of the --freeze patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := train.MatchName(p, name); ok {
			return true
		}
	}
	return false
}

func (r *fitRun) epochName(e int) string {
	if r.maxEpochs == math.MaxInt32 {
		return fmt.Sprintf("epoch %d", e)
	}
	return fmt.Sprintf("epoch %d/%d", e, r.maxEpochs)
}

func (r *fitRun) stepsLeft() bool { return r.o.steps == 0 || r.st.Steps < r.o.steps }

// loop trains until the epochs or steps are done, early stopping or
// Ctrl-C (errInterrupted, with the checkpoint written). It returns the
// last epoch's record (nil when nothing was trained).
func (r *fitRun) loop() (*epochJSON, error) {
	o, st := r.o, &r.st
	showBar := showProgress(o.progress, r.stderr)
	epochStart := time.Now()
	lastSave, saved := time.Time{}, r.resumeFrom != nil
	interrupted := func(bar progress) error {
		r.stop() // a second Ctrl-C ends the program at once
		bar.clear()
		if err := r.saveCheckpoint(); err != nil {
			return fmt.Errorf("interrupted, and writing the checkpoint failed: %w", err)
		}
		return errInterrupted
	}
	for !st.Stopped && st.Epoch <= r.maxEpochs && (r.stepsLeft() || st.Batch == r.nb) {
		order := data.Batches(r.n, r.bs, o.seed+uint64(st.Epoch), true)
		todo := r.nb - st.Batch
		if o.steps > 0 {
			todo = min(todo, o.steps-st.Steps)
		}
		bar := newProgress(showBar, r.stderr, todo, r.epochName(st.Epoch), "steps")
		epochStart = time.Now()
		for st.Batch < r.nb && r.stepsLeft() {
			if r.ctx.Err() != nil {
				return nil, interrupted(bar)
			}
			if err := r.step(order[st.Batch]); err != nil {
				if r.ctx.Err() != nil {
					return nil, interrupted(bar)
				}
				bar.clear()
				return nil, err
			}
			bar.add(fmt.Sprintf("%s loss %.4f", r.epochName(st.Epoch), st.LossSum/float64(st.Seen)))
			if afterStep != nil {
				afterStep(st.Steps)
			}
		}
		bar.clear()
		if st.Batch < r.nb {
			break // --steps ended the training within the epoch
		}
		rec, err := r.record(epochStart, false)
		if err != nil {
			if r.ctx.Err() != nil {
				return nil, interrupted(progress{})
			}
			return nil, err
		}
		if st.Epoch == 1 || st.Epoch%r.logEvery == 0 || st.Epoch == r.maxEpochs || !r.stepsLeft() {
			r.printRecord(rec)
		}
		r.earlyStopping(rec)
		st.History = append(st.History, rec)
		st.Epoch++
		st.Batch, st.LossSum, st.Seen, st.Correct, st.Total, st.NoAcc = 0, 0, 0, 0, 0, false
		saved = false
		if time.Since(lastSave) >= o.ckptEvery {
			if err := r.saveCheckpoint(); err != nil {
				return nil, fmt.Errorf("writing the checkpoint: %w", err)
			}
			lastSave, saved = time.Now(), true
		}
	}
	var final *epochJSON
	if st.Batch > 0 {
		rec, err := r.record(epochStart, true)
		if err != nil {
			if r.ctx.Err() != nil {
				return nil, interrupted(progress{})
			}
			return nil, err
		}
		r.printRecord(rec)
		final = &rec
		saved = false
	} else if len(st.History) > 0 {
		final = &st.History[len(st.History)-1]
	}
	if !saved {
		if err := r.saveCheckpoint(); err != nil {
			return nil, fmt.Errorf("writing the checkpoint: %w", err)
		}
	}
	return final, nil
}

// step trains on the examples idx and adds to the epoch's sums.
func (r *fitRun) step(idx []int) error {
	st := &r.st
	feeds, err := r.trainSet.Batch(idx)
	if err != nil {
		return err
	}
	l, correct, total, ok, err := r.tr.StepAccuracy(r.ctx, feeds)
	if err != nil {
		return err
	}
	st.LossSum += l * float64(len(idx))
	st.Seen += len(idx)
	if ok {
		st.Correct += correct
		st.Total += total
	} else {
		st.NoAcc = true
	}
	if st.FirstLoss == nil {
		st.FirstLoss = jf(l)
	}
	st.Batch++
	st.Steps = r.tr.Steps()
	return nil
}

// record describes the epoch in progress, with the validation metrics.
func (r *fitRun) record(epochStart time.Time, partial bool) (epochJSON, error) {
	st := &r.st
	rec := epochJSON{Epoch: st.Epoch, Steps: st.Steps, Partial: partial, Loss: jf(st.LossSum / float64(max(st.Seen, 1)))}
	if !st.NoAcc && st.Total > 0 {
		rec.Accuracy = jf(float64(st.Correct) / float64(st.Total))
	}
	if r.valSet != nil {
		ev, err := r.tr.Evaluate(r.ctx, r.valSet, max(r.bs, 256), nil)
		if err != nil {
			return rec, err
		}
		rec.ValLoss, rec.ValAccuracy = jf(ev.Loss), jf(ev.Accuracy)
	}
	rec.Seconds = math.Round(time.Since(epochStart).Seconds()*1000) / 1000
	return rec, nil
}

func (r *fitRun) printRecord(rec epochJSON) {
	name := r.epochName(rec.Epoch)
	if rec.Partial {
		name += fmt.Sprintf(" (partial: %d of %d batches)", r.st.Batch, r.nb)
	}
	line := fmt.Sprintf("%s: loss %s", name, fmtLoss(rec.Loss))
	if rec.Accuracy != nil {
		line += ", accuracy " + fmtMetric(rec.Accuracy)
	}
	if r.valSet != nil {
		line += fmt.Sprintf(", val loss %s, val accuracy %s", fmtLoss(rec.ValLoss), fmtMetric(rec.ValAccuracy))
	}
	fmt.Fprintf(r.lines, "%s (step %d, %.1fs)\n", line, rec.Steps, rec.Seconds)
}

// earlyStopping follows the monitored loss (validation, else training)
// and stops after --early-stop epochs without improvement.
func (r *fitRun) earlyStopping(rec epochJSON) {
	st := &r.st
	monitored, what := rec.ValLoss, "validation"
	if r.valSet == nil {
		monitored, what = rec.Loss, "training"
	}
	if monitored != nil && (st.Best == nil || *monitored < *st.Best) {
		st.Best, st.Wait = monitored, 0
		return
	}
	if r.o.earlyStop > 0 {
		st.Wait++
		if st.Wait >= r.o.earlyStop {
			st.Stopped = true
			fmt.Fprintf(r.lines, "early stop: no better %s loss for %d epochs\n", what, st.Wait)
		}
	}
}

// saveCheckpoint writes the trainer's model, the optimizer's slots (as
// extra initializers) and the counters and flags (as metadata) to the
// checkpoint file, atomically.
func (r *fitRun) saveCheckpoint() error {
	state, err := r.tr.State()
	if err != nil {
		return err
	}
	cm := r.tr.Model()
	for slot, v := range state.Optimizer {
		cm.Graph.AddInitializer(optimizerPrefix+slot, v)
	}
	meta := checkpointMeta{Version: 1, Command: r.name, Model: r.modelPath, Data: r.o.data,
		Flags: r.o.recordFlags(), Freeze: r.o.freeze, State: r.st}
	raw, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	cm.Metadata = map[string]string{}
	for k, v := range r.model.Metadata {
		cm.Metadata[k] = v
	}
	cm.Metadata[checkpointKey] = string(raw)
	if cm.IRVersion == 0 {
		cm.IRVersion = 8
	}
	b, err := onnx.Encode(cm)
	if err != nil {
		return err
	}
	return writeFileAtomic(r.o.checkpointPath(), b)
}

// report writes the trained model and prints the summary.
func (r *fitRun) report(final *epochJSON, startSteps int, elapsed time.Duration) error {
	o, st := r.o, &r.st
	if st.Steps == startSteps && r.resumeFrom != nil {
		fmt.Fprintln(r.stderr, "note: the checkpoint had already reached the end of the training; raise --epochs or --steps to train on")
	}
	out := r.tr.Model()
	if r.export != nil {
		var err error
		if out, err = r.export(out); err != nil {
			return err
		}
	}
	if err := train.ExportModel(o.out, out); err != nil {
		return fmt.Errorf("writing %s: %w", o.out, err)
	}
	fmt.Fprintf(r.stderr, "wrote %s (checkpoint %s)\n", o.out, o.checkpointPath())

	res := trainJSON{Epochs: len(st.History), Steps: st.Steps, Seconds: math.Round(elapsed.Seconds()*1000) / 1000,
		FirstLoss: st.FirstLoss, StoppedEarly: st.Stopped, Out: o.out, Checkpoint: o.checkpointPath(), History: st.History}
	if final != nil {
		res.Loss, res.Accuracy, res.ValLoss, res.ValAccuracy = final.Loss, final.Accuracy, final.ValLoss, final.ValAccuracy
	}
	if res.History == nil {
		res.History = []epochJSON{}
	}
	if o.json {
		enc := json.NewEncoder(r.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	line := fmt.Sprintf("trained %d steps (%d this run) in %.1fs", st.Steps, st.Steps-startSteps, elapsed.Seconds())
	if res.Loss != nil {
		line += ": loss " + fmtLoss(res.Loss)
		if res.FirstLoss != nil {
			line += " (first step " + fmtLoss(res.FirstLoss) + ")"
		}
	}
	if res.Accuracy != nil {
		line += ", accuracy " + fmtMetric(res.Accuracy)
	}
	if res.ValAccuracy != nil {
		line += ", val accuracy " + fmtMetric(res.ValAccuracy)
	}
	fmt.Fprintln(r.stdout, line)
	return nil
}

// trainJSON is the --json result of infer train and infer finetune.
type trainJSON struct {
	Loss         *float64    `json:"loss"`
	Accuracy     *float64    `json:"accuracy"`
	ValLoss      *float64    `json:"val_loss"`
	ValAccuracy  *float64    `json:"val_accuracy"`
	Epochs       int         `json:"epochs"` // complete epochs
	Steps        int         `json:"steps"`
	Seconds      float64     `json:"seconds"` // of this run
	FirstLoss    *float64    `json:"first_loss"`
	StoppedEarly bool        `json:"stopped_early"`
	Out          string      `json:"out"`
	Checkpoint   string      `json:"checkpoint"`
	History      []epochJSON `json:"history"`
}

// countElems counts the elements of the trainer's parameters.
func countElems(tr *train.Trainer, names []string) int64 {
	var n int64
	for _, p := range names {
		if v := tr.Value(p); v != nil {
			n += int64(v.Len())
		}
	}
	return n
}
