package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/onyxrt/onyx/onnx/onnxpb"
	"github.com/onyxrt/onyx/tensor"
	"google.golang.org/protobuf/proto"
)

// DecodeTensor parses a serialized TensorProto (the input_N.pb and
// output_N.pb files of ONNX test cases) and returns its name and value.
func DecodeTensor(data []byte) (string, *tensor.Tensor, error) {
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return "", nil, fmt.Errorf("decode tensor: %w", err)
	}
	t, err := tensorFromProto(&tp, nil)
	if err != nil {
		return "", nil, err
	}
	return tp.GetName(), t, nil
}

// EncodeTensor serializes a tensor as a TensorProto named name.
func EncodeTensor(name string, t *tensor.Tensor) ([]byte, error) {
	tp, err := tensorToProto(name, t)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(tp)
}

// externalReader opens files named by external-data tensors, confined to
// the model's directory.
type externalReader struct {
	root *os.Root
}

func (r *externalReader) read(location string, offset, length int64) ([]byte, error) {
	if r == nil || r.root == nil {
		return nil, fmt.Errorf("tensor data is stored in external file %q, but the model was not loaded from a file (use DecodeFile)", location)
	}
	f, err := r.root.Open(location)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if offset < 0 || offset > st.Size() {
		return nil, fmt.Errorf("external data %q: offset %d outside the file (%d bytes)", location, offset, st.Size())
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length > st.Size()-offset {
		return nil, fmt.Errorf("external data %q: %d bytes at offset %d run past the end of the file (%d bytes)", location, length, offset, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	return buf, nil
}

func tensorFromProto(tp *onnxpb.TensorProto, ext *externalReader) (*tensor.Tensor, error) {
	name := tp.GetName()
	fail := func(format string, args ...any) error {
		if name == "" {
			return fmt.Errorf("tensor: "+format, args...)
		}
		return fmt.Errorf("tensor %q: "+format, append([]any{name}, args...)...)
	}
	dt := tensor.DType(tp.GetDataType())
	if !dt.Supported() {
		return nil, fail("element type %s (%d) is not supported", onnxpb.TensorProto_DataType(dt).String(), int32(dt))
	}
	if tp.Segment != nil {
		return nil, fail("segmented tensors are not supported")
	}
	shape := make([]int, len(tp.Dims))
	for i, d := range tp.Dims {
		if d < 0 || d > math.MaxInt32*int64(1<<24) {
			return nil, fail("invalid dimension %d in %v", d, tp.Dims)
		}
		shape[i] = int(d)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fail("%v", err)
	}
	raw := tp.RawData
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		loc, off, length := "", int64(0), int64(-1)
		for _, kv := range tp.ExternalData {
			switch kv.GetKey() {
			case "location":
				loc = kv.GetValue()
			case "offset":
				off, err = strconv.ParseInt(kv.GetValue(), 10, 64)
			case "length":
				length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
			}
			if err != nil {
				return nil, fail("bad external data entry %s=%q", kv.GetKey(), kv.GetValue())
			}
		}
		if loc == "" {
			return nil, fail("external data without a location")
		}
		if raw, err = ext.read(loc, off, length); err != nil {
			return nil, fail("%v", err)
		}
	}
	if dt == tensor.String {
		if len(tp.StringData) != n {
			return nil, fail("shape %v needs %d strings, found %d", shape, n, len(tp.StringData))
		}
		s := make([]string, n)
		for i, b := range tp.StringData {
			s[i] = string(b)
		}
		return tensor.FromSlice(shape, s)
	}
	if raw != nil || tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if want := n * dt.Size(); len(raw) != want {
			return nil, fail("raw data has %d bytes, shape %v of %v needs %d", len(raw), shape, dt, want)
		}
		if t, ok := aliasRaw(dt, shape, raw); ok {
			return t, nil
		}
	}
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, fail("%v", err)
	}
	if raw != nil || tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		fillRaw(t, raw)
		return t, nil
	}
	count := 0
	switch dt {
	case tensor.Float32:
		count = len(tp.FloatData)
	case tensor.Float64:
		count = len(tp.DoubleData)
	case tensor.Int64:
		count = len(tp.Int64Data)
	case tensor.Uint32, tensor.Uint64:
		count = len(tp.Uint64Data)
	default:
		count = len(tp.Int32Data)
	}
	if count != n {
		return nil, fail("shape %v needs %d values, found %d", shape, n, count)
	}
	switch d := t.Data().(type) {
	case []float32:
		copy(d, tp.FloatData)
	case []float64:
		copy(d, tp.DoubleData)
	case []int64:
		copy(d, tp.Int64Data)
	case []uint32:
		for i, v := range tp.Uint64Data {
			d[i] = uint32(v)
		}
	case []uint64:
		copy(d, tp.Uint64Data)
	case []int32:
		copy(d, tp.Int32Data)
	case []int16:
		for i, v := range tp.Int32Data {
			d[i] = int16(v)
		}
	case []int8:
		for i, v := range tp.Int32Data {
			d[i] = int8(v)
		}
	case []uint16:
		for i, v := range tp.Int32Data {
			d[i] = uint16(v)
		}
	case []uint8:
		for i, v := range tp.Int32Data {
			d[i] = uint8(v)
		}
	case []bool:
		for i, v := range tp.Int32Data {
			d[i] = v != 0
		}
	case []tensor.Half:
		for i, v := range tp.Int32Data {
			d[i] = tensor.Half(v)
		}
	case []tensor.BF16:
		for i, v := range tp.Int32Data {
			d[i] = tensor.BF16(v)
		}
	case []tensor.Float8:
		for i, v := range tp.Int32Data {
			d[i] = tensor.Float8(v)
		}
	}
	return t, nil
}

func fillRaw(t *tensor.Tensor, raw []byte) {
	le := binary.LittleEndian
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(le.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = le.Uint64(raw[8*i:])
		}
	case []int32:
		for i := range d {
			d[i] = int32(le.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = le.Uint32(raw[4*i:])
		}
	case []int16:
		for i := range d {
			d[i] = int16(le.Uint16(raw[2*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = le.Uint16(raw[2*i:])
		}
	case []tensor.Half:
		for i := range d {
			d[i] = tensor.Half(le.Uint16(raw[2*i:]))
		}
	case []tensor.BF16:
		for i := range d {
			d[i] = tensor.BF16(le.Uint16(raw[2*i:]))
		}
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []uint8:
		copy(d, raw)
	case []tensor.Float8:
		for i := range d {
			d[i] = tensor.Float8(raw[i])
		}
	case []bool:
		for i := range d {
			d[i] = raw[i] != 0
		}
	}
}

func tensorToProto(name string, t *tensor.Tensor) (*onnxpb.TensorProto, error) {
	tp := &onnxpb.TensorProto{DataType: proto.Int32(int32(t.DType()))}
	if name != "" {
		tp.Name = proto.String(name)
	}
	for _, d := range t.Shape() {
		tp.Dims = append(tp.Dims, int64(d))
	}
	le := binary.LittleEndian
	var raw []byte
	switch d := t.Data().(type) {
	case []string:
		for _, s := range d {
			tp.StringData = append(tp.StringData, []byte(s))
		}
		return tp, nil
	case []float32:
		raw = make([]byte, 0, 4*len(d))
		for _, v := range d {
			raw = le.AppendUint32(raw, math.Float32bits(v))
		}
	case []float64:
		raw = make([]byte, 0, 8*len(d))
		for _, v := range d {
			raw = le.AppendUint64(raw, math.Float64bits(v))
		}
	case []int64:
		raw = make([]byte, 0, 8*len(d))
		for _, v := range d {
			raw = le.AppendUint64(raw, uint64(v))
		}
	case []uint64:
		raw = make([]byte, 0, 8*len(d))
		for _, v := range d {
			raw = le.AppendUint64(raw, v)
		}
	case []int32:
		raw = make([]byte, 0, 4*len(d))
		for _, v := range d {
			raw = le.AppendUint32(raw, uint32(v))
		}
	case []uint32:
		raw = make([]byte, 0, 4*len(d))
		for _, v := range d {
			raw = le.AppendUint32(raw, v)
		}
	case []int16:
		raw = make([]byte, 0, 2*len(d))
		for _, v := range d {
			raw = le.AppendUint16(raw, uint16(v))
		}
	case []uint16:
		raw = make([]byte, 0, 2*len(d))
		for _, v := range d {
			raw = le.AppendUint16(raw, v)
		}
	case []tensor.Half:
		raw = make([]byte, 0, 2*len(d))
		for _, v := range d {
			raw = le.AppendUint16(raw, uint16(v))
		}
	case []tensor.BF16:
		raw = make([]byte, 0, 2*len(d))
		for _, v := range d {
			raw = le.AppendUint16(raw, uint16(v))
		}
	case []int8:
		raw = make([]byte, len(d))
		for i, v := range d {
			raw[i] = byte(v)
		}
	case []uint8:
		raw = append([]byte(nil), d...)
	case []tensor.Float8:
		raw = make([]byte, len(d))
		for i, v := range d {
			raw[i] = byte(v)
		}
	case []bool:
		raw = make([]byte, len(d))
		for i, v := range d {
			if v {
				raw[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q: cannot encode element type %v", name, t.DType())
	}
	tp.RawData = raw
	return tp, nil
}
