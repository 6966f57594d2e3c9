package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/train"
)

const finetuneSynopsis = `usage: infer finetune --data KIND:PATH --cut VALUE --classes N --out OUT.onnx [flags] MODEL

Transfer learning: cuts MODEL at the value VALUE (what comes after it is
dropped), attaches a new dense head (Flatten if needed, then a Gemm to N
classes with Glorot-uniform weights from --seed and a zero bias), freezes the
parameters before VALUE (--freeze-before) and trains with softmax
cross-entropy (class indices or one-hot labels). OUT.onnx ends in a Softmax
(--activation none: the logits) whose output takes the name of MODEL's first
output. The other flags are infer train's (no --loss: it is xent).

examples:
  infer finetune --data imagefolder:photos --cut relu4.out --classes 5 --epochs 3 --out photos.onnx models/mnist-cnn/model.onnx
  infer finetune --data mnist:data/mnist --limit 5000 --cut /classifier/classifier.0/Flatten_output_0 --classes 10 --freeze-before none --out m.onnx models/mnist-cnn/model.onnx`

func cmdFinetune(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "finetune", &code)
	o := &fitOptions{loss: "xent"}
	fs := newFlagSet("finetune", finetuneSynopsis, stderr)
	o.register(fs, "-", "adam")
	var cut, freezeBefore, activation string
	var classes int
	fs.StringVar(&cut, "cut", "", "cut the model at this `VALUE` and attach the new head to it (required)")
	fs.IntVar(&classes, "classes", 0, "`N` classes of the new head (required)")
	fs.StringVar(&freezeBefore, "freeze-before", "", "freeze the parameters that only feed this `VALUE` (default: the --cut value, the whole base; none: train everything)")
	fs.StringVar(&activation, "activation", "softmax", "the exported model's last layer: `softmax|none` (training reads the logits)")
	pos, err := o.parse(args)
	if err != nil {
		return parseOutcome(err)
	}
	fail := failFunc("finetune", stderr)
	if len(pos) != 1 {
		return fail(usagef("want one MODEL, got %d arguments", len(pos)))
	}
	job := &fitJob{name: "finetune", o: o, modelPath: pos[0]}
	if err := job.prepareResume(stderr); err != nil {
		return fail(err)
	}
	switch {
	case cut == "":
		return fail(usagef("no --cut VALUE given"))
	case classes <= 0:
		return fail(usagef("--classes must be positive, got %d", classes))
	case activation != "softmax" && activation != "none":
		return fail(usagef("--activation must be softmax or none, not %q", activation))
	}
	if err := o.check(); err != nil {
		return fail(err)
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	if !hasValue(m.Graph, cut) {
		return fail(usagef("--cut %q is not a value of %s; its node outputs are:\n  %s", cut, pos[0], strings.Join(nodeOutputs(m.Graph), "\n  ")))
	}
	switch freezeBefore {
	case "":
		freezeBefore = cut
	case "none":
		freezeBefore = ""
	default:
		if !hasValue(m.Graph, freezeBefore) {
			return fail(usagef("--freeze-before %q is not a value of %s", freezeBefore, pos[0]))
		}
	}
	outName := ""
	if len(m.Graph.Outputs) > 0 {
		outName = m.Graph.Outputs[0].Name
	}
	head, logits, err := train.TransferHead(m, cut, classes, train.DenseOptions{Name: "head", Seed: o.seed})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "new head on %q: %d classes (output %q)\n", cut, classes, logits)
	job.model, job.output, job.freezeBefore = head, logits, freezeBefore
	if activation == "softmax" {
		job.export = func(tm *graph.Model) (*graph.Model, error) { return appendSoftmax(tm, outName) }
	}
	return job.run(stdout, stderr)
}

// hasValue reports whether name is an input, initializer or node output of g.
func hasValue(g *graph.Graph, name string) bool {
	if g.IsInitializer(name) {
		return true
	}
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return true
			}
		}
	}
	return false
}

// nodeOutputs lists the node outputs of g with their operators, for an
// error message.
func nodeOutputs(g *graph.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				out = append(out, o+"  ("+n.OpType+")")
			}
		}
	}
	return out
}

// appendSoftmax returns m with a Softmax over its only output (the head's
// logits [N,C]); the new output is called name when that is free.
func appendSoftmax(m *graph.Model, name string) (*graph.Model, error) {
	if len(m.Graph.Outputs) != 1 {
		return nil, fmt.Errorf("the trained model has %d outputs, want 1", len(m.Graph.Outputs))
	}
	logits := m.Graph.Outputs[0]
	if name == "" || hasValue(m.Graph, name) {
		name = freshName(m, "probs")
	}
	out := *m
	g := *m.Graph
	g.Nodes = append(append([]*graph.Node(nil), m.Graph.Nodes...), &graph.Node{
		Name: "head/Softmax", OpType: "Softmax", Inputs: []string{logits.Name}, Outputs: []string{name},
		Attrs: []*ops.Attr{ops.IntAttr("axis", 1)},
	})
	typ := logits.Type
	g.Outputs = []graph.ValueInfo{{Name: name, Type: typ}}
	out.Graph = &g
	return &out, nil
}
