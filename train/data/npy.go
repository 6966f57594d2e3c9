package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// maxNPYHeader bounds the header we are willing to read.
const maxNPYHeader = 1 << 20

// ReadNPY decodes one .npy array (format versions 1 to 3) as a tensor of
// the matching dtype: float16/32/64, (u)int8..64 or bool, little- or
// big-endian, C or Fortran order. Object and string arrays are rejected.
func ReadNPY(r io.Reader) (*tensor.Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("npy: not a .npy file (bad magic %q)", pre[:6])
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: %w", err)
		}
		h := binary.LittleEndian.Uint32(b[:])
		if h > maxNPYHeader {
			return nil, fmt.Errorf("npy: header of %d bytes is too large", h)
		}
		hlen = int(h)
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("npy: reading the header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hb))
	if err != nil {
		return nil, err
	}
	dt, size, order, err := npyDType(descr)
	if err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if n > tensor.MaxBytes/size {
		return nil, fmt.Errorf("npy: array of shape %v is too large", shape)
	}
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("npy: reading %d bytes of data: %w", len(raw), err)
	}
	if fortran && len(shape) > 1 {
		raw = fortranToC(raw, shape, size)
	}
	data := decodeElems(raw, dt, n, order)
	return tensor.FromSlice(shape, data)
}

// parseNPYHeader reads the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	field := func(key string) (string, bool) {
		for _, q := range []string{"'", "\""} {
			if i := strings.Index(h, q+key+q); i >= 0 {
				rest := strings.TrimSpace(h[i+len(key)+2:])
				if rest, ok := strings.CutPrefix(rest, ":"); ok {
					return strings.TrimSpace(rest), true
				}
			}
		}
		return "", false
	}
	bad := func(what string) (string, bool, []int, error) {
		return "", false, nil, fmt.Errorf("npy: header %q: %s", strings.TrimSpace(h), what)
	}
	v, ok := field("descr")
	if !ok || len(v) < 2 || (v[0] != '\'' && v[0] != '"') {
		return bad("no string 'descr' (structured dtypes are not supported)")
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return bad("unterminated descr")
	}
	descr = v[1 : 1+end]
	v, ok = field("fortran_order")
	if !ok {
		return bad("no 'fortran_order'")
	}
	fortran = strings.HasPrefix(v, "True")
	v, ok = field("shape")
	if !ok || !strings.HasPrefix(v, "(") {
		return bad("no 'shape' tuple")
	}
	end = strings.IndexByte(v, ')')
	if end < 0 {
		return bad("unterminated shape")
	}
	for _, part := range strings.Split(v[1:end], ",") {
		part = strings.TrimSuffix(strings.TrimSpace(part), "L")
		if part == "" {
			continue
		}
		d, err := strconv.Atoi(part)
		if err != nil || d < 0 {
			return bad("bad dimension " + strconv.Quote(part))
		}
		shape = append(shape, d)
	}
	return descr, fortran, shape, nil
}

// npyDType maps a numpy type string such as "<f4" to a dtype, element size
// and byte order.
func npyDType(descr string) (tensor.DType, int, binary.ByteOrder, error) {
	if len(descr) < 3 {
		return 0, 0, nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '<', '|', '=':
	default:
		return 0, 0, nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	types := map[string]tensor.DType{
		"f2": tensor.Float16, "f4": tensor.Float32, "f8": tensor.Float64,
		"i1": tensor.Int8, "i2": tensor.Int16, "i4": tensor.Int32, "i8": tensor.Int64,
		"u1": tensor.Uint8, "u2": tensor.Uint16, "u4": tensor.Uint32, "u8": tensor.Uint64,
		"b1": tensor.Bool,
	}
	dt, ok := types[descr[1:]]
	if !ok {
		return 0, 0, nil, fmt.Errorf("npy: unsupported dtype %q (want a numeric or bool array)", descr)
	}
	size, _ := strconv.Atoi(descr[2:])
	return dt, size, order, nil
}

// npyDescr is the inverse of npyDType for the little-endian types we write.
func npyDescr(dt tensor.DType) (string, bool) {
	m := map[tensor.DType]string{
		tensor.Float16: "<f2", tensor.Float32: "<f4", tensor.Float64: "<f8",
		tensor.Int8: "|i1", tensor.Int16: "<i2", tensor.Int32: "<i4", tensor.Int64: "<i8",
		tensor.Uint8: "|u1", tensor.Uint16: "<u2", tensor.Uint32: "<u4", tensor.Uint64: "<u8",
		tensor.Bool: "|b1",
	}
	s, ok := m[dt]
	return s, ok
}

// fortranToC reorders column-major element bytes to row-major.
func fortranToC(raw []byte, shape []int, size int) []byte {
	r := len(shape)
	// Strides (in elements) of the column-major source.
	fs := make([]int, r)
	s := 1
	for i := 0; i < r; i++ {
		fs[i] = s
		s *= shape[i]
	}
	out := make([]byte, len(raw))
	idx := make([]int, r)
	n := len(raw) / size
	for o := 0; o < n; o++ {
		src := 0
		for i := 0; i < r; i++ {
			src += idx[i] * fs[i]
		}
		copy(out[o*size:(o+1)*size], raw[src*size:(src+1)*size])
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

func decodeElems(raw []byte, dt tensor.DType, n int, o binary.ByteOrder) any {
	switch dt {
	case tensor.Float16:
		v := make([]tensor.Half, n)
		for i := range v {
			v[i] = tensor.Half(o.Uint16(raw[2*i:]))
		}
		return v
	case tensor.Float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(o.Uint32(raw[4*i:]))
		}
		return v
	case tensor.Float64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(o.Uint64(raw[8*i:]))
		}
		return v
	case tensor.Int8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v
	case tensor.Int16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(o.Uint16(raw[2*i:]))
		}
		return v
	case tensor.Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(o.Uint32(raw[4*i:]))
		}
		return v
	case tensor.Int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(o.Uint64(raw[8*i:]))
		}
		return v
	case tensor.Uint8:
		return raw
	case tensor.Uint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = o.Uint16(raw[2*i:])
		}
		return v
	case tensor.Uint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = o.Uint32(raw[4*i:])
		}
		return v
	case tensor.Uint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = o.Uint64(raw[8*i:])
		}
		return v
	case tensor.Bool:
		v := make([]bool, n)
		for i := range v {
			v[i] = raw[i] != 0
		}
		return v
	}
	return nil
}

// WriteNPY encodes t as a version 1.0 .npy array (little-endian, C order).
func WriteNPY(w io.Writer, t *tensor.Tensor) error {
	descr, ok := npyDescr(t.DType())
	if !ok {
		return fmt.Errorf("npy: cannot write dtype %v", t.DType())
	}
	var shape strings.Builder
	shape.WriteByte('(')
	for i, d := range t.Shape() {
		if i > 0 {
			shape.WriteString(", ")
		}
		shape.WriteString(strconv.Itoa(d))
	}
	if t.Rank() == 1 {
		shape.WriteByte(',')
	}
	shape.WriteByte(')')
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape.String())
	// Pad with spaces so that magic+version+length+header is a multiple of
	// 64 bytes and the header ends in a newline, as numpy writes it.
	total := (10 + len(h) + 1 + 63) / 64 * 64
	h += strings.Repeat(" ", total-10-len(h)-1) + "\n"
	if len(h) > math.MaxUint16 {
		return fmt.Errorf("npy: header too long")
	}
	var buf bytes.Buffer
	buf.WriteString(npyMagic)
	buf.Write([]byte{1, 0})
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	buf.WriteString(h)
	switch v := t.Data().(type) {
	case []uint8:
		buf.Write(v)
	case []bool:
		for _, b := range v {
			if b {
				buf.WriteByte(1)
			} else {
				buf.WriteByte(0)
			}
		}
	default:
		if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
			return fmt.Errorf("npy: %w", err)
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadNPZ reads every array of a .npz archive (stored or deflated, as
// numpy.savez and savez_compressed write), keyed by name without ".npy".
func ReadNPZ(name string) (map[string]*tensor.Tensor, error) {
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out := map[string]*tensor.Tensor{}
	for _, f := range zr.File {
		key, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, f.Name, err)
		}
		t, err := ReadNPY(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, f.Name, err)
		}
		out[key] = t
	}
	return out, nil
}

// WriteNPZ writes arrays as a .npz archive (uncompressed, like
// numpy.savez), entries in sorted key order.
func WriteNPZ(name string, arrays map[string]*tensor.Tensor) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: zip.Store})
		if err == nil {
			err = WriteNPY(w, arrays[k])
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %s: %w", name, k, err)
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
