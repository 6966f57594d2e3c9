package onnx

import (
	"encoding/binary"
	"unsafe"

	"github.com/onyxrt/onyx/tensor"
)

// hostLittleEndian is whether this machine stores numbers as ONNX's
// raw_data does.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// aliasRaw returns a tensor whose elements are raw itself, reinterpreted,
// when the host is little-endian and raw is aligned for dt: a model's
// weights then live once in memory (in the buffer the protobuf decoder
// made) instead of twice. raw must already have the right length and must
// never be written afterwards. ok is false when raw must be copied.
func aliasRaw(dt tensor.DType, shape []int, raw []byte) (t *tensor.Tensor, ok bool) {
	if !hostLittleEndian || len(raw) == 0 {
		return nil, false
	}
	p := unsafe.Pointer(unsafe.SliceData(raw))
	aligned := func(size uintptr) bool { return uintptr(p)%size == 0 }
	var data any
	switch dt {
	case tensor.Float32:
		if aligned(4) {
			data = unsafe.Slice((*float32)(p), len(raw)/4)
		}
	case tensor.Float64:
		if aligned(8) {
			data = unsafe.Slice((*float64)(p), len(raw)/8)
		}
	case tensor.Int64:
		if aligned(8) {
			data = unsafe.Slice((*int64)(p), len(raw)/8)
		}
	case tensor.Int32:
		if aligned(4) {
			data = unsafe.Slice((*int32)(p), len(raw)/4)
		}
	case tensor.Int8:
		data = unsafe.Slice((*int8)(p), len(raw))
	case tensor.Uint8:
		data = raw
	}
	if data == nil {
		return nil, false
	}
	t, err := tensor.FromSlice(shape, data)
	return t, err == nil
}
