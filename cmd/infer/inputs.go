package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds what the subcommands share: flag parsing, loading and
// compiling a model, and turning command-line arguments into feeds.

// usageError is a mistake on the command line (exit status 2), as opposed
// to a failure while doing the work (exit status 1).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the exit status: 2 for usage errors, else 1.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// recoverTo turns a panic escaping a subcommand into a message and exit
// status 1. Use as `defer recoverTo(stderr, "run", &code)`.
func recoverTo(stderr io.Writer, name string, code *int) {
	if r := recover(); r != nil {
		fmt.Fprintf(stderr, "infer %s: internal error: %v\n%s", name, r, debug.Stack())
		*code = 1
	}
}

// newFlagSet returns a flag set that reports to stderr and prints usage
// (a synopsis and an example), then the flags.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, strings.TrimRight(synopsis, "\n"))
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args allowing flags after positional arguments
// (`infer run model.onnx --top 5 x.npy`); "--" ends flag parsing. It
// returns the positional arguments. A -h request returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" (consumed) or at the first non-flag.
		if consumedDashDash(args, rest) {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// consumedDashDash reports whether flag.Parse stopped because of a "--"
// just before rest.
func consumedDashDash(args, rest []string) bool {
	i := len(args) - len(rest) - 1
	return i >= 0 && args[i] == "--"
}

// parseOutcome converts a parse error into an exit status: 0 for -h, 2
// otherwise (flag has already printed the problem and the usage).
func parseOutcome(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// dimFlag collects repeated --dim NAME=V flags.
type dimFlag map[string]int

func (d dimFlag) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, d[k])
	}
	return strings.Join(parts, ",")
}

func (d dimFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", part)
		}
		v, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || v < 0 {
			return fmt.Errorf("dimension %s: want a non-negative integer, got %q", name, val)
		}
		d[name] = v
	}
	return nil
}

// loadModel reads and decodes an ONNX model file.
func loadModel(path string) (*graph.Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a model file", path)
	}
	m, err := onnx.DecodeFile(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// compileModel compiles m, formatting an unsupported-operator error as a
// readable list.
func compileModel(m *graph.Model, threads int) (*runtime.Session, error) {
	return compileModelWith(m, runtime.Options{Threads: threads})
}

// compileModelWith is compileModel with more options (the registry is
// always the CLI's).
func compileModelWith(m *graph.Model, o runtime.Options) (*runtime.Session, error) {
	o.Registry = registry()
	sess, err := runtime.Compile(m, o)
	if err != nil {
		var u *runtime.UnsupportedError
		if errors.As(err, &u) {
			return nil, fmt.Errorf("the model uses operators Onyx does not support:\n  %s", strings.Join(u.Problems, "\n  "))
		}
		return nil, fmt.Errorf("compile: %w", err)
	}
	return sess, nil
}

// concreteShape resolves a declared shape: symbolic dimensions take their
// value from dims (default 1), unknown ones become 1.
func concreteShape(s tensor.SymShape, dims dimFlag) []int {
	out := make([]int, len(s))
	for i, d := range s {
		switch {
		case d.Known():
			out[i] = int(d.Size)
		case d.Param != "":
			if v, ok := dims[d.Param]; ok {
				out[i] = v
			} else {
				out[i] = 1
			}
		default:
			out[i] = 1
		}
	}
	return out
}

// randomTensor fills a tensor of the input's type with uniform [0,1)
// floats, small integers (0..9) or random bools.
func randomTensor(vi graph.ValueInfo, dims dimFlag, rng *rand.Rand) (*tensor.Tensor, error) {
	if vi.Type.Kind != graph.KindTensor {
		return nil, fmt.Errorf("input %q has type %v: only tensors can be generated", vi.Name, vi.Type)
	}
	if vi.Type.Shape == nil {
		return nil, fmt.Errorf("input %q has no declared shape: give a file for it", vi.Name)
	}
	dt := vi.Type.DType
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	shape := concreteShape(vi.Type.Shape, dims)
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", vi.Name, err)
	}
	switch s := t.Data().(type) {
	case []float32:
		for i := range s {
			s[i] = rng.Float32()
		}
	case []float64:
		for i := range s {
			s[i] = rng.Float64()
		}
	case []tensor.Half:
		for i := range s {
			s[i] = tensor.HalfFrom(rng.Float32())
		}
	case []tensor.BF16:
		for i := range s {
			s[i] = tensor.BF16From(rng.Float32())
		}
	case []int8:
		fillInts(s, rng)
	case []int16:
		fillInts(s, rng)
	case []int32:
		fillInts(s, rng)
	case []int64:
		fillInts(s, rng)
	case []uint8:
		fillInts(s, rng)
	case []uint16:
		fillInts(s, rng)
	case []uint32:
		fillInts(s, rng)
	case []uint64:
		fillInts(s, rng)
	case []bool:
		for i := range s {
			s[i] = rng.IntN(2) == 1
		}
	default:
		return nil, fmt.Errorf("input %q: cannot generate random %v values", vi.Name, dt)
	}
	return t, nil
}

func fillInts[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](s []T, rng *rand.Rand) {
	for i := range s {
		s[i] = T(rng.IntN(10))
	}
}

// newRNG returns a deterministic generator for a seed.
func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6f6e7978)) }

// inputFormat names how a file is read.
type inputFormat int

const (
	formatUnknown inputFormat = iota
	formatNPY
	formatPB
	formatImage
)

// detectFormat picks the format from the extension, or from the first
// bytes when the extension is not one we know.
func detectFormat(path string, head []byte) inputFormat {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return formatNPY
	case ".pb":
		return formatPB
	case ".png", ".jpg", ".jpeg":
		return formatImage
	}
	switch {
	case bytes.HasPrefix(head, []byte(npyMagic)):
		return formatNPY
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")), bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return formatImage
	}
	return formatUnknown
}

// readInput reads one input file as a tensor for the model input vi.
func readInput(path string, vi graph.ValueInfo, img imageOptions) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	switch detectFormat(path, head[:n]) {
	case formatNPY:
		return readNPY(f)
	case formatPB:
		data, err := io.ReadAll(f)
		if err != nil {
			return nil, err
		}
		_, t, err := onnx.DecodeTensor(data)
		if err != nil {
			return nil, err
		}
		return t, nil
	case formatImage:
		return loadImage(f, vi, img)
	}
	return nil, fmt.Errorf("unknown input format (want .npy, .pb, .png, .jpg or .jpeg)")
}

// feedOptions say how command-line inputs become feeds.
type feedOptions struct {
	random bool
	seed   uint64
	dims   dimFlag
	image  imageOptions
	// note receives remarks (conversions made) for stderr.
	note func(format string, args ...any)
}

// buildFeeds matches input arguments (PATH or NAME=PATH) to the model's
// feed inputs, the positional ones in order, reads them, and generates the
// rest when opts.random is set.
func buildFeeds(inputs []graph.ValueInfo, args []string, opts feedOptions) (map[string]*tensor.Tensor, error) {
	index := map[string]int{}
	for i, in := range inputs {
		index[in.Name] = i
	}
	paths := make([]string, len(inputs))
	var positional []string
	for _, a := range args {
		if name, path, ok := strings.Cut(a, "="); ok {
			if i, known := index[name]; known {
				if paths[i] != "" {
					return nil, usagef("input %q is given twice", name)
				}
				if path == "" {
					return nil, usagef("%s: no PATH after the input name", a)
				}
				paths[i] = path
				continue
			}
			if _, err := os.Stat(a); err != nil {
				return nil, usagef("%q is neither NAME=PATH for an input of the model (inputs: %s) nor an existing file", a, inputNames(inputs))
			}
		}
		positional = append(positional, a)
	}
	next := 0
	for _, p := range positional {
		for next < len(inputs) && paths[next] != "" {
			next++
		}
		if next == len(inputs) {
			return nil, usagef("too many inputs: the model takes %d (%s)", len(inputs), inputNames(inputs))
		}
		paths[next] = p
	}
	feeds := map[string]*tensor.Tensor{}
	var missing []string
	rng := newRNG(opts.seed)
	for i, in := range inputs {
		if paths[i] == "" {
			if !opts.random {
				missing = append(missing, fmt.Sprintf("%s %v", in.Name, in.Type))
				continue
			}
			t, err := randomTensor(in, opts.dims, rng)
			if err != nil {
				return nil, err
			}
			feeds[in.Name] = t
			continue
		}
		t, err := readInput(paths[i], in, opts.image)
		if err != nil {
			return nil, fmt.Errorf("input %q from %s: %w", in.Name, paths[i], err)
		}
		if t, err = fitDType(t, in, opts.note); err != nil {
			return nil, fmt.Errorf("input %q from %s: %w", in.Name, paths[i], err)
		}
		feeds[in.Name] = t
	}
	if len(missing) > 0 {
		return nil, usagef("no value for input(s) %s: give a file for each (PATH or NAME=PATH) or use --random", strings.Join(missing, ", "))
	}
	return feeds, nil
}

// fitDType converts a numeric tensor to the input's declared element type
// (numpy writes float64 by default), noting the conversion.
func fitDType(t *tensor.Tensor, vi graph.ValueInfo, note func(string, ...any)) (*tensor.Tensor, error) {
	want := vi.Type.DType
	if vi.Type.Kind != graph.KindTensor || want == tensor.Undefined || t.DType() == want {
		return t, nil
	}
	convertible := func(d tensor.DType) bool { return d.IsNumeric() || d == tensor.Bool }
	if !convertible(t.DType()) || !convertible(want) {
		return nil, fmt.Errorf("has type %v, the model wants %v", t.DType(), want)
	}
	c, err := t.Cast(want)
	if err != nil {
		return nil, err
	}
	if note != nil {
		note("input %q: converted %v to %v", vi.Name, t.DType(), want)
	}
	return c, nil
}

func inputNames(inputs []graph.ValueInfo) string {
	if len(inputs) == 0 {
		return "none"
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	return strings.Join(names, ", ")
}
