package ops

import (
	"math"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// Cast and CastLike. Conversions follow tensor.Tensor.Cast (floats to
// integers truncate, NaN becomes 0, non-zero becomes true, float to
// float16/bfloat16 rounds to nearest even), with two refinements here:
// strings convert to integers exactly (not through float64), and
// float16/bfloat16 format as their own shortest round-tripping decimal.

func registerCast(r *Registry) {
	// Cast-19/CastLike-19 add float8 types and the saturate attribute
	// (which only affects float8), Cast-21/CastLike-21 add int4/uint4:
	// Onyx has none of those element types, so these versions share the
	// earlier implementation and reject such types with a clear error.
	regVersions(r, "Cast", buildCast, 1, 6, 9, 13, 19, 21)
	regVersions(r, "CastLike", buildCastLike, 15, 19, 21)
}

// newerTypeNames names the TensorProto.DataType values of ONNX 1.14+ that
// Onyx does not implement, for error messages.
var newerTypeNames = map[tensor.DType]string{
	17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
	21: "uint4", 22: "int4", 23: "float4e2m1",
}

// dtypeName names d, including ONNX types Onyx does not implement.
func dtypeName(d tensor.DType) string {
	if n, ok := newerTypeNames[d]; ok {
		return n
	}
	return d.String()
}

// onnxTypeNames maps the TensorProto.DataType names used by Cast-1's
// string `to` attribute.
var onnxTypeNames = map[string]tensor.DType{
	"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8,
	"UINT16": tensor.Uint16, "INT16": tensor.Int16, "INT32": tensor.Int32,
	"INT64": tensor.Int64, "STRING": tensor.String, "BOOL": tensor.Bool,
	"FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64, "UINT32": tensor.Uint32,
	"UINT64": tensor.Uint64, "BFLOAT16": tensor.BFloat16,
	"FLOAT32": tensor.Float32, "FLOAT64": tensor.Float64,
}

func buildCast(b *Builder) (Kernel, error) {
	var to tensor.DType
	if b.Opset < 6 {
		name := b.String("to", "")
		dt, ok := onnxTypeNames[strings.ToUpper(name)]
		if !ok {
			b.Fail("Cast: unknown type name %q in attribute to", name)
		}
		to = dt
	} else {
		to = tensor.DType(b.RequireInt("to"))
		if b.Err() == nil && !to.Supported() {
			b.Fail("Cast: unsupported target type %s", dtypeName(to))
		}
	}
	saturate := true
	if b.Opset >= 19 {
		saturate = b.Int("saturate", 1) != 0 // only changes float8 results
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return unaryKernel(func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
		if !saturate && to.Size() == 1 && to.IsFloat() {
			return castFloat8NoSaturate(x, to)
		}
		if y, ok, err := castNumeric(rc, x, to); ok {
			return y, err
		}
		return castTensor(x, to)
	}), nil
}

// castNumeric converts between the numeric types and bool (Cast's
// semantics: floats truncate toward zero and NaN becomes 0 when cast to
// integers, non-zero becomes true) into a tensor from the run's
// allocator. ok is false for the other types (half precision, float8,
// strings), which castTensor handles.
func castNumeric(rc *RunContext, x *tensor.Tensor, to tensor.DType) (y *tensor.Tensor, ok bool, err error) {
	if x.Kind() != tensor.KindTensor || !castable(x.DType()) || !castable(to) {
		return nil, false, nil
	}
	if y, err = rc.NewUninit(to, x.Shape()...); err != nil {
		return nil, true, err
	}
	switch s := x.Data().(type) {
	case []float32:
		castFrom(y.Data(), s)
	case []float64:
		castFrom(y.Data(), s)
	case []int8:
		castFrom(y.Data(), s)
	case []int16:
		castFrom(y.Data(), s)
	case []int32:
		castFrom(y.Data(), s)
	case []int64:
		castFrom(y.Data(), s)
	case []uint8:
		castFrom(y.Data(), s)
	case []uint16:
		castFrom(y.Data(), s)
	case []uint32:
		castFrom(y.Data(), s)
	case []uint64:
		castFrom(y.Data(), s)
	case []bool:
		switch d := y.Data().(type) {
		case []bool:
			copy(d, s)
		case []float32:
			castBool(d, s)
		case []float64:
			castBool(d, s)
		case []int8:
			castBool(d, s)
		case []int16:
			castBool(d, s)
		case []int32:
			castBool(d, s)
		case []int64:
			castBool(d, s)
		case []uint8:
			castBool(d, s)
		case []uint16:
			castBool(d, s)
		case []uint32:
			castBool(d, s)
		case []uint64:
			castBool(d, s)
		}
	}
	return y, true, nil
}

// castable reports whether castNumeric handles dt.
func castable(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool:
		return true
	}
	return false
}

// castFrom converts s into dst, a slice of a castable type.
func castFrom[S Number](dst any, s []S) {
	switch d := dst.(type) {
	case []float32:
		castNums(d, s)
	case []float64:
		castNums(d, s)
	case []int8:
		castNums(d, s)
	case []int16:
		castNums(d, s)
	case []int32:
		castNums(d, s)
	case []int64:
		castNums(d, s)
	case []uint8:
		castNums(d, s)
	case []uint16:
		castNums(d, s)
	case []uint32:
		castNums(d, s)
	case []uint64:
		castNums(d, s)
	case []bool:
		s = s[:len(d)]
		for i, v := range s {
			d[i] = v != 0
		}
	}
}

// castNums converts numbers like tensor.Tensor.Cast: NaN becomes 0 in an
// integer type.
func castNums[D, S Number](d []D, s []S) {
	s = s[:len(d)]
	half := 0.5
	if D(half) == 0 { // integer target
		var z S
		if S(half) != z { // float source
			for i, v := range s {
				if v != v {
					d[i] = 0
				} else {
					d[i] = D(v)
				}
			}
			return
		}
	}
	for i, v := range s {
		d[i] = D(v)
	}
}

func castBool[D Number](d []D, s []bool) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] = 0
		if v {
			d[i] = 1
		}
	}
}

func buildCastLike(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		if y, ok, err := castNumeric(rc, in[0], in[1].DType()); ok {
			return rc.one(y, err)
		}
		return rc.one(castTensor(in[0], in[1].DType()))
	}), nil
}

// castFloat8NoSaturate casts to a float8 type with saturate=0: values
// beyond the largest finite one become infinity (E5M2) or NaN.
func castFloat8NoSaturate(x *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	f, err := castTensor(x, tensor.Float32)
	if err != nil {
		return nil, err
	}
	out, err := tensor.New(to, x.Shape()...)
	if err != nil {
		return nil, err
	}
	d := tensor.Data[tensor.Float8](out)
	for i, v := range f.Float32s() {
		d[i] = tensor.Float8From(to, v, false)
	}
	return out, nil
}

// castTensor converts x to element type to (always a fresh tensor).
func castTensor(x *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	switch s := x.Data().(type) {
	case []string:
		if to.IsInt() {
			return parseInts(x.Shape(), s, to)
		}
	case []tensor.Half:
		if to == tensor.String {
			return formatHalves(x.Shape(), s, tensor.Half.Float32, tensor.HalfFrom)
		}
	case []tensor.BF16:
		if to == tensor.String {
			return formatHalves(x.Shape(), s, tensor.BF16.Float32, tensor.BF16From)
		}
	}
	return x.Cast(to)
}

// parseInts converts decimal strings to an integer type exactly; strings
// that are not integers ("2.5", "1e3") are parsed as floats and truncated.
func parseInts(shape []int, s []string, to tensor.DType) (*tensor.Tensor, error) {
	vals := make([]int64, len(s))
	uvals := make([]uint64, len(s))
	for i, str := range s {
		str = strings.TrimSpace(str)
		if to == tensor.Uint64 {
			if u, err := strconv.ParseUint(str, 10, 64); err == nil {
				uvals[i] = u
				continue
			}
		} else if v, err := strconv.ParseInt(str, 10, 64); err == nil {
			vals[i] = v
			continue
		}
		f, err := tensor.From([]int{1}, []string{str}).Cast(tensor.Float64)
		if err != nil {
			return nil, err
		}
		v := f.Float64s()[0]
		if to == tensor.Uint64 {
			if v == v && v > 0 {
				uvals[i] = uint64(v)
			}
		} else if v == v {
			vals[i] = int64(math.Trunc(v))
		}
	}
	if to == tensor.Uint64 {
		return tensor.FromSlice(shape, uvals)
	}
	t, err := tensor.FromSlice(shape, vals)
	if err != nil {
		return nil, err
	}
	return t.Cast(to)
}

// formatHalves formats 16-bit floats with the fewest digits that round-trip
// to the same 16-bit value.
func formatHalves[H ~uint16](shape []int, s []H, widen func(H) float32, round func(float32) H) (*tensor.Tensor, error) {
	out := make([]string, len(s))
	for i, h := range s {
		f := float64(widen(h))
		switch {
		case f != f:
			out[i] = "NaN"
		case math.IsInf(f, 1):
			out[i] = "INF"
		case math.IsInf(f, -1):
			out[i] = "-INF"
		default:
			out[i] = strconv.FormatFloat(f, 'g', -1, 32)
			for prec := 1; prec < 9; prec++ {
				str := strconv.FormatFloat(f, 'g', prec, 64)
				if g, err := strconv.ParseFloat(str, 32); err == nil && round(float32(g)) == h {
					out[i] = str
					break
				}
			}
		}
	}
	return tensor.FromSlice(shape, out)
}
