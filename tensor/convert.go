package tensor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Cast converts t to dtype dt with ONNX Cast semantics: floats to integers
// truncate toward zero, non-zero numbers become true, strings are parsed as
// numbers and numbers are formatted as the shortest round-tripping decimal.
func (t *Tensor) Cast(dt DType) (*Tensor, error) {
	if !dt.Supported() {
		return nil, fmt.Errorf("cannot cast to unsupported dtype %v", dt)
	}
	if t.Kind() != KindTensor {
		return nil, fmt.Errorf("cannot cast a sequence or optional value")
	}
	if dt == t.dtype {
		return t.Clone(), nil
	}
	src := t.data
	// Half precision goes through float32.
	switch s := src.(type) {
	case []Half:
		f := make([]float32, len(s))
		for i, v := range s {
			f[i] = v.Float32()
		}
		src = f
	case []BF16:
		f := make([]float32, len(s))
		for i, v := range s {
			f[i] = v.Float32()
		}
		src = f
	case []Float8:
		f := make([]float32, len(s))
		for i, v := range s {
			f[i] = Float8ToFloat32(t.dtype, v)
		}
		src = f
	case []string:
		f := make([]float64, len(s))
		for i, v := range s {
			x, err := parseNumber(v)
			if err != nil {
				return nil, fmt.Errorf("cast string %q to %v: %w", v, dt, err)
			}
			f[i] = x
		}
		src = f
	}
	var out any
	switch dt {
	case Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ:
		f := castTo[float32](src)
		h := make([]Float8, len(f))
		for i, v := range f {
			h[i] = Float8From(dt, v, true)
		}
		out = h
	case Float32:
		out = castTo[float32](src)
	case Float64:
		out = castTo[float64](src)
	case Int8:
		out = castTo[int8](src)
	case Int16:
		out = castTo[int16](src)
	case Int32:
		out = castTo[int32](src)
	case Int64:
		out = castTo[int64](src)
	case Uint8:
		out = castTo[uint8](src)
	case Uint16:
		out = castTo[uint16](src)
	case Uint32:
		out = castTo[uint32](src)
	case Uint64:
		out = castTo[uint64](src)
	case Float16:
		f := castTo[float32](src)
		h := make([]Half, len(f))
		for i, v := range f {
			h[i] = HalfFrom(v)
		}
		out = h
	case BFloat16:
		f := castTo[float32](src)
		h := make([]BF16, len(f))
		for i, v := range f {
			h[i] = BF16From(v)
		}
		out = h
	case Bool:
		f := castTo[float64](src)
		b := make([]bool, len(f))
		for i, v := range f {
			b[i] = v != 0
		}
		out = b
	case String:
		out = formatAll(src)
	}
	return &Tensor{dtype: dt, shape: cloneInts(t.shape), data: out}, nil
}

func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func castTo[D number](src any) []D {
	switch s := src.(type) {
	case []float32:
		return convertFloat[float32, D](s)
	case []float64:
		return convertFloat[float64, D](s)
	case []int8:
		return convert[int8, D](s)
	case []int16:
		return convert[int16, D](s)
	case []int32:
		return convert[int32, D](s)
	case []int64:
		return convert[int64, D](s)
	case []uint8:
		return convert[uint8, D](s)
	case []uint16:
		return convert[uint16, D](s)
	case []uint32:
		return convert[uint32, D](s)
	case []uint64:
		return convert[uint64, D](s)
	case []bool:
		out := make([]D, len(s))
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return nil
}

// convertFloat converts floats, mapping NaN to zero for integer targets so
// the result does not depend on the platform.
func convertFloat[S ~float32 | ~float64, D number](s []S) []D {
	out := make([]D, len(s))
	half := 0.5
	isInt := D(half) == 0
	for i, v := range s {
		if isInt && v != v {
			continue
		}
		out[i] = D(v)
	}
	return out
}

func formatAll(src any) []string {
	switch s := src.(type) {
	case []float32:
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = formatFloat(float64(v), 32)
		}
		return out
	case []float64:
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = formatFloat(v, 64)
		}
		return out
	case []bool:
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = "0"
			if v {
				out[i] = "1"
			}
		}
		return out
	}
	f := castTo[float64](src)
	if u, ok := src.([]uint64); ok {
		out := make([]string, len(u))
		for i, v := range u {
			out[i] = strconv.FormatUint(v, 10)
		}
		return out
	}
	if i64, ok := src.([]int64); ok {
		out := make([]string, len(i64))
		for i, v := range i64 {
			out[i] = strconv.FormatInt(v, 10)
		}
		return out
	}
	out := make([]string, len(f))
	for i, v := range f {
		out[i] = strconv.FormatInt(int64(v), 10)
	}
	return out
}

func formatFloat(v float64, bits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "INF"
	case math.IsInf(v, -1):
		return "-INF"
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}

// BroadcastShapes returns the shape that the given shapes broadcast to under
// ONNX (numpy) multidirectional broadcasting.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				return nil, fmt.Errorf("shapes %v are not broadcastable (dimension %d: %d vs %d)", shapes, off+i, *o, d)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns strides to index a tensor of shape in as if it
// had shape out (len(out) >= len(in)): broadcast dimensions get stride 0.
func BroadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	s := Strides(in)
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 {
			st[off+i] = s[i]
		}
	}
	return st
}

// Dim is one dimension of a symbolic shape: a known Size (>= 0), or a
// named parameter (Param, like "N" or "batch"), or unknown (Size < 0 and no
// Param).
type Dim struct {
	Size  int64
	Param string
}

// Known reports whether the dimension has a concrete size.
func (d Dim) Known() bool { return d.Size >= 0 }

// String prints the size, the parameter name, or "?".
func (d Dim) String() string {
	switch {
	case d.Size >= 0:
		return strconv.FormatInt(d.Size, 10)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// SymShape is a shape whose dimensions may be symbolic. A nil SymShape
// means the rank itself is unknown.
type SymShape []Dim

// String prints the shape like [N 3 224 224].
func (s SymShape) String() string {
	if s == nil {
		return "[?...]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Matches reports whether a concrete shape fits s: same rank and equal
// sizes where s knows them.
func (s SymShape) Matches(shape []int) bool {
	if s == nil {
		return true
	}
	if len(s) != len(shape) {
		return false
	}
	for i, d := range s {
		if d.Known() && int64(shape[i]) != d.Size {
			return false
		}
	}
	return true
}
