package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//
//	"\x93NUMPY" major minor HEADER_LEN HEADER DATA
//
// HEADER_LEN is a little-endian uint16 in version 1.0 and a uint32 in
// versions 2.0 and 3.0 (3.0 allows UTF-8 in the header). HEADER is a
// Python dict literal with the keys 'descr' (like '<f4'), 'fortran_order'
// and 'shape' (a tuple).

const npyMagic = "\x93NUMPY"

// readNPY reads a whole .npy stream.
func readNPY(r io.Reader) (*tensor.Tensor, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return parseNPY(data)
}

// parseNPY decodes the bytes of a .npy file.
func parseNPY(data []byte) (*tensor.Tensor, error) {
	if len(data) < len(npyMagic)+2 || string(data[:len(npyMagic)]) != npyMagic {
		return nil, fmt.Errorf("not a .npy file (bad magic)")
	}
	major := data[6]
	rest := data[8:]
	var hlen int
	switch major {
	case 1:
		if len(rest) < 2 {
			return nil, fmt.Errorf(".npy header is truncated")
		}
		hlen = int(binary.LittleEndian.Uint16(rest))
		rest = rest[2:]
	case 2, 3:
		if len(rest) < 4 {
			return nil, fmt.Errorf(".npy header is truncated")
		}
		h := binary.LittleEndian.Uint32(rest)
		if uint64(h) > uint64(len(rest)-4) {
			return nil, fmt.Errorf(".npy header is truncated")
		}
		hlen = int(h)
		rest = rest[4:]
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d", major, data[7])
	}
	if hlen > len(rest) {
		return nil, fmt.Errorf(".npy header is truncated")
	}
	h, err := parseNPYHeader(string(rest[:hlen]))
	if err != nil {
		return nil, fmt.Errorf(".npy header: %w", err)
	}
	body := rest[hlen:]
	if h.fortran {
		return nil, fmt.Errorf(".npy array is in Fortran order; save it in C order (numpy.ascontiguousarray)")
	}
	dt, order, err := npyDType(h.descr)
	if err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(h.shape)
	if err != nil {
		return nil, err
	}
	size := dt.Size()
	if n > len(body)/size {
		return nil, fmt.Errorf(".npy data is truncated: shape %v of %s needs %d bytes, the file has %d", h.shape, h.descr, uint64(n)*uint64(size), len(body))
	}
	t, err := tensor.New(dt, h.shape...)
	if err != nil {
		return nil, err
	}
	decodeNPYData(t, body[:n*size], order)
	return t, nil
}

type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// npyDType maps a descr like '<f4', '>i8', '|u1', '|b1' to an element type
// and byte order.
func npyDType(descr string) (tensor.DType, binary.ByteOrder, error) {
	if len(descr) < 3 {
		return 0, nil, fmt.Errorf("unsupported .npy dtype %q", descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '<', '|', '=':
	case '>':
		order = binary.BigEndian
	default:
		return 0, nil, fmt.Errorf("unsupported .npy dtype %q", descr)
	}
	types := map[string]tensor.DType{
		"f2": tensor.Float16, "f4": tensor.Float32, "f8": tensor.Float64,
		"i1": tensor.Int8, "i2": tensor.Int16, "i4": tensor.Int32, "i8": tensor.Int64,
		"u1": tensor.Uint8, "u2": tensor.Uint16, "u4": tensor.Uint32, "u8": tensor.Uint64,
		"b1": tensor.Bool,
	}
	dt, ok := types[descr[1:]]
	if !ok {
		return 0, nil, fmt.Errorf("unsupported .npy dtype %q (supported: float16/32/64, int8..64, uint8..64, bool)", descr)
	}
	return dt, order, nil
}

func decodeNPYData(t *tensor.Tensor, b []byte, order binary.ByteOrder) {
	switch s := t.Data().(type) {
	case []float32:
		for i := range s {
			s[i] = math.Float32frombits(order.Uint32(b[4*i:]))
		}
	case []float64:
		for i := range s {
			s[i] = math.Float64frombits(order.Uint64(b[8*i:]))
		}
	case []tensor.Half:
		for i := range s {
			s[i] = tensor.Half(order.Uint16(b[2*i:]))
		}
	case []int8:
		for i := range s {
			s[i] = int8(b[i])
		}
	case []uint8:
		copy(s, b)
	case []bool:
		for i := range s {
			s[i] = b[i] != 0
		}
	case []int16:
		for i := range s {
			s[i] = int16(order.Uint16(b[2*i:]))
		}
	case []uint16:
		for i := range s {
			s[i] = order.Uint16(b[2*i:])
		}
	case []int32:
		for i := range s {
			s[i] = int32(order.Uint32(b[4*i:]))
		}
	case []uint32:
		for i := range s {
			s[i] = order.Uint32(b[4*i:])
		}
	case []int64:
		for i := range s {
			s[i] = int64(order.Uint64(b[8*i:]))
		}
	case []uint64:
		for i := range s {
			s[i] = order.Uint64(b[8*i:])
		}
	}
}

// parseNPYHeader reads the dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
func parseNPYHeader(s string) (npyHeader, error) {
	p := &pyParser{s: strings.TrimSpace(s)}
	var h npyHeader
	seen := map[string]bool{}
	if !p.eat('{') {
		return h, fmt.Errorf("want a dict, got %q", abbrev(s))
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		p.space()
		if !p.eat(':') {
			return h, fmt.Errorf("want ':' after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if p.peek() != '\'' && p.peek() != '"' {
				return h, fmt.Errorf("structured dtypes are not supported")
			}
			if h.descr, err = p.str(); err != nil {
				return h, err
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
			default:
				return h, fmt.Errorf("fortran_order is not True or False")
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return h, err
			}
		default:
			return h, fmt.Errorf("unexpected key %q", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return h, fmt.Errorf("want ',' or '}' at %q", abbrev(p.s[p.i:]))
			}
			break
		}
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("key %q is missing", k)
		}
	}
	return h, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a string at %q", abbrev(p.s[p.i:]))
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

// tuple reads (), (3,) or (3, 4) as dimensions.
func (p *pyParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("shape is not a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2 longs
			p.i++
		}
		v, err := strconv.Atoi(strings.TrimSuffix(p.s[start:p.i], "L"))
		if err != nil {
			return nil, fmt.Errorf("bad dimension in shape at %q", abbrev(p.s[start:]))
		}
		shape = append(shape, v)
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, fmt.Errorf("want ',' or ')' in shape")
			}
			return shape, nil
		}
	}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
