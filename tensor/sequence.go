package tensor

// Kind distinguishes plain tensors from the two container values ONNX
// graphs can pass between nodes: sequences of tensors and optionals.
type Kind int

// Value kinds.
const (
	KindTensor Kind = iota
	KindSequence
	KindOptional
)

// seqData is the storage of a sequence value.
type seqData struct{ elems []*Tensor }

// optData is the storage of an optional value; value is nil when empty.
type optData struct {
	value *Tensor
	// seq says whether the optional's element type is a sequence.
	seq bool
}

// NewSequence returns a sequence value holding elems (not copied), whose
// elements have type elem. A sequence has rank 0 and DType elem; kernels
// that only handle tensors reject it through its Kind.
func NewSequence(elem DType, elems []*Tensor) *Tensor {
	return &Tensor{dtype: elem, shape: []int{}, data: seqData{elems: elems}}
}

// NewOptional returns an optional holding v, or an empty optional of
// element type elem (a sequence of elem when seq is set) when v is nil.
func NewOptional(v *Tensor, elem DType, seq bool) *Tensor {
	if v != nil {
		elem, seq = v.dtype, v.Kind() == KindSequence
	}
	return &Tensor{dtype: elem, shape: []int{}, data: optData{value: v, seq: seq}}
}

// Kind reports whether t is a tensor, a sequence or an optional.
func (t *Tensor) Kind() Kind {
	switch t.data.(type) {
	case seqData:
		return KindSequence
	case optData:
		return KindOptional
	}
	return KindTensor
}

// Elems returns the elements of a sequence (nil for other kinds). The slice
// is the sequence's own: do not modify it.
func (t *Tensor) Elems() []*Tensor {
	if s, ok := t.data.(seqData); ok {
		return s.elems
	}
	return nil
}

// OptionalValue returns the content of an optional and whether it has one.
func (t *Tensor) OptionalValue() (*Tensor, bool) {
	if o, ok := t.data.(optData); ok {
		return o.value, o.value != nil
	}
	return nil, false
}

// OptionalOfSequence reports whether an optional's element type is a
// sequence.
func (t *Tensor) OptionalOfSequence() bool {
	o, ok := t.data.(optData)
	return ok && o.seq
}
