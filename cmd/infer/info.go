package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

const infoSynopsis = `usage: infer info [--json] MODEL

Describes MODEL: producer, IR version, opset imports, inputs and outputs
with their (symbolic) shapes, the operators it uses (subgraphs included),
its parameter count, and the operators Onyx cannot run.

example:
  infer info models/mnist-cnn/model.onnx`

type infoJSON struct {
	Model           string            `json:"model"`
	Producer        string            `json:"producer"`
	ProducerVersion string            `json:"producer_version,omitempty"`
	IRVersion       int64             `json:"ir_version"`
	ModelVersion    int64             `json:"model_version,omitempty"`
	Domain          string            `json:"domain,omitempty"`
	Doc             string            `json:"doc,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Opsets          []opsetJSON       `json:"opsets"`
	Inputs          []valueJSON       `json:"inputs"`
	Outputs         []valueJSON       `json:"outputs"`
	Nodes           int               `json:"nodes"`
	Ops             []opCount         `json:"ops"`
	Initializers    int               `json:"initializers"`
	Parameters      int64             `json:"parameters"`
	ParameterBytes  int64             `json:"parameter_bytes"`
	Supported       bool              `json:"supported"`
	Unsupported     []string          `json:"unsupported"`
	CompileError    string            `json:"compile_error,omitempty"`
}

type opsetJSON struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

type valueJSON struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	DType string `json:"dtype,omitempty"`
	// Shape holds numbers for known dimensions, names for symbolic ones,
	// "?" for unknown ones; null when the rank is unknown.
	Shape []any `json:"shape"`
}

type opCount struct {
	Op     string `json:"op"`
	Domain string `json:"domain"`
	Count  int    `json:"count"`
}

func cmdInfo(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "info", &code)
	fs := newFlagSet("info", infoSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "infer info: want exactly one MODEL")
		fs.Usage()
		return 2
	}
	m, err := loadModel(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "infer info:", err)
		return 1
	}
	info := describe(pos[0], m)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			fmt.Fprintln(stderr, "infer info:", err)
			return 1
		}
		return 0
	}
	printInfo(stdout, info)
	return 0
}

// describe gathers what info prints.
func describe(path string, m *graph.Model) infoJSON {
	g := m.Graph
	info := infoJSON{
		Model:           path,
		Producer:        m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		IRVersion:       m.IRVersion,
		ModelVersion:    m.ModelVersion,
		Domain:          m.Domain,
		Doc:             m.Doc,
		Metadata:        m.Metadata,
		Opsets:          []opsetJSON{},
		Inputs:          []valueJSON{},
		Outputs:         []valueJSON{},
		Unsupported:     []string{},
	}
	for _, o := range m.Opsets {
		d := o.Domain
		if ops.NormDomain(d) == "" {
			d = "ai.onnx"
		}
		info.Opsets = append(info.Opsets, opsetJSON{Domain: d, Version: o.Version})
	}
	for _, in := range g.FeedInputs() {
		info.Inputs = append(info.Inputs, valueToJSON(in))
	}
	for _, out := range g.Outputs {
		info.Outputs = append(info.Outputs, valueToJSON(out))
	}
	counts := map[[2]string]int{}
	var walk func(g *graph.Graph)
	walk = func(g *graph.Graph) {
		for _, name := range g.InitializerOrder {
			t := g.Initializers[name]
			if t == nil {
				continue
			}
			info.Initializers++
			info.Parameters += int64(t.Len())
			info.ParameterBytes += tensorBytes(t)
		}
		for _, n := range g.Nodes {
			info.Nodes++
			d := n.Domain
			if ops.NormDomain(d) == "" {
				d = "ai.onnx"
			}
			counts[[2]string{d, n.OpType}]++
			for _, sg := range n.Subgraphs() {
				walk(sg)
			}
		}
	}
	walk(g)
	info.Ops = []opCount{}
	for k, c := range counts {
		info.Ops = append(info.Ops, opCount{Domain: k[0], Op: k[1], Count: c})
	}
	sort.Slice(info.Ops, func(i, j int) bool {
		a, b := info.Ops[i], info.Ops[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Domain < b.Domain
	})

	_, err := runtime.Compile(m, runtime.Options{Threads: 1, Registry: registry()})
	var u *runtime.UnsupportedError
	switch {
	case err == nil:
		info.Supported = true
	case errors.As(err, &u):
		info.Unsupported = append(info.Unsupported, u.Problems...)
	default:
		info.CompileError = err.Error()
	}
	return info
}

func tensorBytes(t *tensor.Tensor) int64 {
	if t.DType() == tensor.String {
		var n int64
		for _, s := range tensor.Data[string](t) {
			n += int64(len(s))
		}
		return n
	}
	return int64(t.Len()) * int64(t.DType().Size())
}

func valueToJSON(v graph.ValueInfo) valueJSON {
	j := valueJSON{Name: v.Name, Type: v.Type.String()}
	if v.Type.Kind == graph.KindTensor || v.Type.Kind == graph.KindSparseTensor {
		j.DType = v.Type.DType.String()
		if v.Type.Shape != nil {
			j.Shape = make([]any, len(v.Type.Shape))
			for i, d := range v.Type.Shape {
				if d.Known() {
					j.Shape[i] = d.Size
				} else {
					j.Shape[i] = d.String()
				}
			}
		}
	}
	return j
}

func printInfo(w io.Writer, info infoJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model:\t%s\n", info.Model)
	producer := strings.TrimSpace(info.Producer + " " + info.ProducerVersion)
	if producer == "" {
		producer = "(not recorded)"
	}
	fmt.Fprintf(tw, "producer:\t%s\n", producer)
	fmt.Fprintf(tw, "ir version:\t%d\n", info.IRVersion)
	if info.ModelVersion != 0 {
		fmt.Fprintf(tw, "model version:\t%d\n", info.ModelVersion)
	}
	if info.Domain != "" {
		fmt.Fprintf(tw, "domain:\t%s\n", info.Domain)
	}
	opsets := make([]string, len(info.Opsets))
	for i, o := range info.Opsets {
		opsets[i] = fmt.Sprintf("%s %d", o.Domain, o.Version)
	}
	fmt.Fprintf(tw, "opsets:\t%s\n", strings.Join(opsets, ", "))
	if info.Doc != "" {
		fmt.Fprintf(tw, "doc:\t%s\n", firstLine(info.Doc))
	}
	keys := make([]string, 0, len(info.Metadata))
	for k := range info.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "metadata %s:\t%s\n", k, firstLine(info.Metadata[k]))
	}
	fmt.Fprintf(tw, "parameters:\t%s (%s in %d initializers)\n", groupDigits(info.Parameters), humanBytes(info.ParameterBytes), info.Initializers)
	tw.Flush()

	section := func(title string, vals []valueJSON) {
		fmt.Fprintf(w, "\n%s:\n", title)
		if len(vals) == 0 {
			fmt.Fprintln(w, "  (none)")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range vals {
			fmt.Fprintf(tw, "  %s\t%s\n", v.Name, v.Type)
		}
		tw.Flush()
	}
	section("inputs", info.Inputs)
	section("outputs", info.Outputs)

	fmt.Fprintf(w, "\noperators (%d nodes, %d kinds):\n", info.Nodes, len(info.Ops))
	width := 1
	if len(info.Ops) > 0 {
		width = len(fmt.Sprint(info.Ops[0].Count))
	}
	for _, o := range info.Ops {
		name := o.Op
		if o.Domain != "ai.onnx" {
			name = o.Domain + ":" + o.Op
		}
		fmt.Fprintf(w, "  %*d  %s\n", width, o.Count, name)
	}

	switch {
	case info.Supported:
		fmt.Fprintln(w, "\nsupported: yes, every operator has an Onyx kernel")
	case len(info.Unsupported) > 0:
		fmt.Fprintf(w, "\nunsupported operators (%d):\n", len(info.Unsupported))
		for _, p := range info.Unsupported {
			fmt.Fprintf(w, "  %s\n", p)
		}
	default:
		fmt.Fprintf(w, "\ncompile error: %s\n", info.CompileError)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// groupDigits prints 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// humanBytes prints a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
