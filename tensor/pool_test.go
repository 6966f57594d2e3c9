package tensor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeaderPoolRecycles(t *testing.T) {
	var p HeaderPool
	a, err := p.Get(Float32, []int{2, 3}, make([]float32, 6), "tag a")
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, a.Shape())
	tag, ok := p.Tag(a)
	assert.True(t, ok)
	assert.Equal(t, "tag a", tag)

	assert.True(t, p.Put(a))
	assert.False(t, p.Put(a), "a header goes back once")
	_, ok = p.Tag(a)
	assert.False(t, ok, "a header put back is no longer out")
	assert.Equal(t, 1, p.Len())

	b, err := p.Get(Int64, nil, []int64{7}, nil)
	require.NoError(t, err)
	assert.Same(t, a, b, "the header is reused")
	assert.Equal(t, Int64, b.DType())
	assert.Equal(t, []int{}, b.Shape(), "a scalar has an empty, non-nil shape")
	assert.Equal(t, []int64{7}, b.Int64s())
}

func TestHeaderPoolLeavesOthersAlone(t *testing.T) {
	var p, q HeaderPool
	plain := MustNew(Float32, 2)
	assert.False(t, p.Put(plain), "an ordinary tensor")
	_, ok := p.Tag(plain)
	assert.False(t, ok)

	x, err := q.Get(Float32, []int{2}, make([]float32, 2), nil)
	require.NoError(t, err)
	assert.False(t, p.Put(x), "another pool's header")

	// A header of an ended generation is never taken back: it left the
	// run (an output) and is its holder's now.
	y, err := p.Get(Float32, []int{1}, []float32{5}, 1)
	require.NoError(t, err)
	p.EndGeneration()
	_, ok = p.Tag(y)
	assert.False(t, ok)
	assert.False(t, p.Put(y))
	z, err := p.Get(Float32, []int{1}, []float32{6}, nil)
	require.NoError(t, err)
	assert.NotSame(t, y, z)
	assert.Equal(t, []float32{5}, y.Float32s(), "y is untouched")

	// Detach cuts the link, elements of sequences included.
	e, err := p.Get(Float32, []int{1}, []float32{1}, nil)
	require.NoError(t, err)
	seq := NewSequence(Float32, []*Tensor{e})
	p.Detach(seq)
	assert.Nil(t, e.pool)
	assert.False(t, p.Put(e))
	p.Detach(z)
	assert.Nil(t, z.pool)
}

func TestHeaderPoolNeverRewritesShapes(t *testing.T) {
	var p HeaderPool
	a, err := p.Get(Float32, []int{2, 3}, make([]float32, 6), nil)
	require.NoError(t, err)
	kept := a.Shape() // a kernel may keep it, in a plan cache say
	require.True(t, p.Put(a))
	b, err := p.Get(Float32, []int{3, 2}, make([]float32, 6), nil)
	require.NoError(t, err)
	require.Same(t, a, b)
	assert.Equal(t, []int{3, 2}, b.Shape())
	assert.Equal(t, []int{2, 3}, kept, "the old shape slice is intact")
	c, err := p.Get(Float32, []int{2, 3}, make([]float32, 6), nil)
	require.NoError(t, err)
	assert.Equal(t, &kept[0], &c.Shape()[0], "headers of one shape share its slice")
}

func TestHeaderPoolChecksData(t *testing.T) {
	var p HeaderPool
	tests := []struct {
		name  string
		dt    DType
		shape []int
		data  any
	}{
		{"length", Float32, []int{2, 2}, make([]float32, 3)},
		{"type", Float64, []int{2}, make([]float32, 2)},
		{"negative", Float32, []int{-1}, make([]float32, 0)},
		{"not a slice", Float32, []int{1}, 1.5},
	}
	for _, tc := range tests {
		_, err := p.Get(tc.dt, tc.shape, tc.data, nil)
		assert.Error(t, err, tc.name)
	}
	f8, err := p.Get(Float8E4M3FN, []int{2}, make([]Float8, 2), nil)
	require.NoError(t, err)
	assert.Equal(t, Float8E4M3FN, f8.DType())
	assert.Zero(t, p.Len())
}

func TestCopy(t *testing.T) {
	dst := MustNew(Float32, 2, 2)
	require.NoError(t, Copy(dst, From([]int{2, 2}, []float32{1, 2, 3, 4})))
	assert.Equal(t, []float32{1, 2, 3, 4}, dst.Float32s())
	assert.Error(t, Copy(dst, From([]int{4}, []float32{1, 2, 3, 4})), "shape")
	assert.Error(t, Copy(dst, From([]int{2, 2}, []int32{1, 2, 3, 4})), "type")
	assert.Error(t, Copy(NewSequence(Float32, nil), dst), "kind")
	s := MustNew(String, 2)
	require.NoError(t, Copy(s, From([]int{2}, []string{"a", "b"})))
	assert.Equal(t, []string{"a", "b"}, Data[string](s))
}

func TestHeaderPoolGetAllocatesNothingWhenWarm(t *testing.T) {
	var p HeaderPool
	data := make([]float32, 24)
	var box any = data
	shape := []int{2, 3, 4}
	x, err := p.Get(Float32, shape, box, nil)
	require.NoError(t, err)
	p.Put(x)
	allocs := testing.AllocsPerRun(100, func() {
		x, _ := p.Get(Float32, shape, box, nil)
		p.Put(x)
	})
	assert.Zero(t, allocs)
}

// TestHeaderPoolTake checks Take: Tag and Put at once, for the pool's own
// headers of the current generation only.
func TestHeaderPoolTake(t *testing.T) {
	var p, other HeaderPool
	x, err := p.Get(Float32, []int{2}, []float32{1, 2}, "tag")
	if err != nil {
		t.Fatal(err)
	}
	if tag, ok := other.Take(x); ok || tag != nil {
		t.Fatalf("another pool took the header: %v %v", tag, ok)
	}
	if tag, ok := p.Take(x); !ok || tag != "tag" {
		t.Fatalf("Take = %v, %v; want tag, true", tag, ok)
	}
	if p.Len() != 1 {
		t.Fatalf("%d free headers after Take, want 1", p.Len())
	}
	if _, ok := p.Take(x); ok {
		t.Fatal("a header was taken twice")
	}
	y, _ := p.Get(Float32, []int{1}, []float32{3}, nil)
	p.EndGeneration()
	if _, ok := p.Take(y); ok {
		t.Fatal("a header of an ended generation was taken")
	}
	if _, ok := p.Take(MustNew(Float32, 1)); ok {
		t.Fatal("an ordinary tensor was taken")
	}
}
