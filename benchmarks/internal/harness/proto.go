package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// A Feed is one input tensor, decoded once, in the plain form that every
// runtime adapter converts from. Exactly one of F32 and I64 is set.
type Feed struct {
	Name  string
	Shape []int
	F32   []float32
	I64   []int64
}

// LoadFeeds reads serialized TensorProtos (input_N.pb files).
func LoadFeeds(paths []string) ([]Feed, error) {
	var feeds []Feed
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := DecodeTensor(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		feeds = append(feeds, f)
	}
	return feeds, nil
}

// TensorProto field numbers and data types (onnx.proto).
const (
	tpDims      = 1
	tpDataType  = 2
	tpFloatData = 4
	tpInt64Data = 7
	tpName      = 8
	tpRawData   = 9
	tpExternal  = 13

	dtFloat = 1
	dtInt64 = 7
)

// DecodeTensor decodes a float32 or int64 TensorProto.
func DecodeTensor(b []byte) (Feed, error) {
	var f Feed
	var dtype uint64
	var raw []byte
	var haveRaw bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == tpDims && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			for len(v) > 0 {
				d, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return f, protowire.ParseError(k)
				}
				f.Shape = append(f.Shape, int(int64(d)))
				v = v[k:]
			}
			b = b[n:]
		case num == tpDims && typ == protowire.VarintType:
			d, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.Shape = append(f.Shape, int(int64(d)))
			b = b[n:]
		case num == tpDataType && typ == protowire.VarintType:
			d, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			dtype = d
			b = b[n:]
		case num == tpFloatData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			for ; len(v) >= 4; v = v[4:] {
				f.F32 = append(f.F32, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
			b = b[n:]
		case num == tpFloatData && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.F32 = append(f.F32, math.Float32frombits(v))
			b = b[n:]
		case num == tpInt64Data && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			for len(v) > 0 {
				d, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return f, protowire.ParseError(k)
				}
				f.I64 = append(f.I64, int64(d))
				v = v[k:]
			}
			b = b[n:]
		case num == tpInt64Data && typ == protowire.VarintType:
			d, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.I64 = append(f.I64, int64(d))
			b = b[n:]
		case num == tpName && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			f.Name = string(v)
			b = b[n:]
		case num == tpRawData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			raw, haveRaw = v, true
			b = b[n:]
		case num == tpExternal:
			return f, errors.New("external tensor data is not supported by the harness")
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	count := 1
	for _, d := range f.Shape {
		count *= d
	}
	switch dtype {
	case dtFloat:
		if haveRaw {
			if len(raw) != 4*count {
				return f, fmt.Errorf("raw data of %d bytes for %d floats", len(raw), count)
			}
			f.F32 = make([]float32, count)
			for i := range f.F32 {
				f.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if len(f.F32) != count {
			return f, fmt.Errorf("%d floats for shape %v", len(f.F32), f.Shape)
		}
		f.I64 = nil
	case dtInt64:
		if haveRaw {
			if len(raw) != 8*count {
				return f, fmt.Errorf("raw data of %d bytes for %d int64s", len(raw), count)
			}
			f.I64 = make([]int64, count)
			for i := range f.I64 {
				f.I64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		if len(f.I64) != count {
			return f, fmt.Errorf("%d int64s for shape %v", len(f.I64), f.Shape)
		}
		f.F32 = nil
	default:
		return f, fmt.Errorf("input data type %d is not supported by the harness (float32 and int64 are)", dtype)
	}
	if f.Shape == nil {
		f.Shape = []int{}
	}
	return f, nil
}

// GraphIO lists the names of a model's graph inputs (initializers listed
// there included, in file order) and graph outputs.
func GraphIO(model []byte) (inputs, outputs []string, err error) {
	graph, err := field(model, 7) // ModelProto.graph
	if err != nil {
		return nil, nil, err
	}
	if graph == nil {
		return nil, nil, errors.New("model has no graph")
	}
	for b := graph; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 11 || num == 12) && typ == protowire.BytesType { // GraphProto.input, .output
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			name, err := field(v, 1) // ValueInfoProto.name
			if err != nil {
				return nil, nil, err
			}
			if num == 11 {
				inputs = append(inputs, string(name))
			} else {
				outputs = append(outputs, string(name))
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return inputs, outputs, nil
}

// field returns the last length-delimited field num of a message.
func field(b []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		n2, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if n2 == num && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			out = v
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(n2, typ, b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return out, nil
}
