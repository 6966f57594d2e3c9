package tensor_test

import (
	"math"
	"testing"

	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHalfConversion(t *testing.T) {
	tests := []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {0.000060975552, 0x03ff},
		{5.9604645e-08, 0x0001}, {float32(math.Inf(1)), 0x7c00}, {1e6, 0x7c00},
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}, // tie rounds to even
	}
	for _, tc := range tests {
		assert.Equal(t, tc.bits, uint16(tensor.HalfFrom(tc.f)), "HalfFrom(%v)", tc.f)
	}
	for _, bits := range []uint16{0x0000, 0x3c00, 0xc000, 0x7bff, 0x03ff, 0x0001, 0x7c00, 0x3555} {
		h := tensor.Half(bits)
		assert.Equal(t, bits, uint16(tensor.HalfFrom(h.Float32())), "round trip %#x", bits)
	}
	assert.True(t, math.IsNaN(float64(tensor.Half(0x7e00).Float32())))
}

func TestBF16Conversion(t *testing.T) {
	assert.Equal(t, float32(1), tensor.BF16From(1).Float32())
	assert.Equal(t, float32(3.140625), tensor.BF16From(3.14159).Float32())
	assert.True(t, math.IsNaN(float64(tensor.BF16From(float32(math.NaN())).Float32())))
}

func TestCast(t *testing.T) {
	tests := []struct {
		name string
		in   *tensor.Tensor
		to   tensor.DType
		want any
	}{
		{"float to int truncates", tensor.From([]int{3}, []float32{1.9, -1.9, 0}), tensor.Int32, []int32{1, -1, 0}},
		{"int to bool", tensor.From([]int{3}, []int64{0, 2, -1}), tensor.Bool, []bool{false, true, true}},
		{"bool to float", tensor.From([]int{2}, []bool{true, false}), tensor.Float64, []float64{1, 0}},
		{"string to float", tensor.From([]int{3}, []string{"1.5", "-INF", "1e3"}), tensor.Float32, []float32{1.5, float32(math.Inf(-1)), 1000}},
		{"float to string", tensor.From([]int{2}, []float32{0.1, 2}), tensor.String, []string{"0.1", "2"}},
		{"half via float", tensor.From([]int{1}, []tensor.Half{tensor.HalfFrom(2.5)}), tensor.Int8, []int8{2}},
		{"int64 exact", tensor.From([]int{1}, []int64{1<<62 + 1}), tensor.Uint64, []uint64{1<<62 + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Cast(tc.to)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Data())
			assert.Equal(t, tc.in.Shape(), got.Shape())
		})
	}
	_, err := tensor.From([]int{1}, []string{"x"}).Cast(tensor.Float32)
	assert.Error(t, err)
}

func TestBroadcastShapes(t *testing.T) {
	tests := []struct {
		in   [][]int
		want []int
		ok   bool
	}{
		{[][]int{{2, 3}, {3}}, []int{2, 3}, true},
		{[][]int{{2, 1, 4}, {3, 1}}, []int{2, 3, 4}, true},
		{[][]int{{}, {5}}, []int{5}, true},
		{[][]int{{0, 3}, {1, 3}}, []int{0, 3}, true},
		{[][]int{{2, 3}, {4}}, nil, false},
	}
	for _, tc := range tests {
		got, err := tensor.BroadcastShapes(tc.in...)
		if !tc.ok {
			assert.Error(t, err, "%v", tc.in)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	assert.Equal(t, []int{0, 1, 0}, tensor.BroadcastStrides([]int{2, 1}, []int{3, 2, 1}))
}

func TestNewRejectsAbsurdShapes(t *testing.T) {
	_, err := tensor.New(tensor.Float32, 1<<40, 1<<40)
	assert.ErrorIs(t, err, tensor.ErrTooLarge)
	_, err = tensor.New(tensor.Float32, 1<<62, 4)
	assert.ErrorIs(t, err, tensor.ErrTooLarge)
	_, err = tensor.New(tensor.Float32, -1)
	assert.Error(t, err)
	x, err := tensor.New(tensor.Int64, 2, 0, 3)
	require.NoError(t, err)
	assert.Equal(t, 0, x.Len())
}

func TestFloat8(t *testing.T) {
	tests := []struct {
		dt   tensor.DType
		in   float32
		want float32
	}{
		{tensor.Float8E4M3FN, 1, 1},
		{tensor.Float8E4M3FN, 448, 448},
		{tensor.Float8E4M3FN, 1000, 448}, // saturates
		{tensor.Float8E4M3FN, 0.3, 0.3125},
		{tensor.Float8E4M3FN, 1.0625, 1}, // tie to even (1.0 and 1.125)
		{tensor.Float8E4M3FN, -0.001953125, -0.001953125},
		{tensor.Float8E4M3FNUZ, 240, 240},
		{tensor.Float8E4M3FNUZ, -3.5, -3.5},
		{tensor.Float8E5M2, 57344, 57344},
		{tensor.Float8E5M2, 1.3, 1.25},
		{tensor.Float8E5M2FNUZ, 0.75, 0.75},
	}
	for _, tc := range tests {
		b := tensor.Float8From(tc.dt, tc.in, true)
		assert.Equal(t, tc.want, tensor.Float8ToFloat32(tc.dt, b), "%v %v", tc.dt, tc.in)
	}
	// Every non-NaN code round-trips.
	for _, dt := range []tensor.DType{tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ, tensor.Float8E5M2, tensor.Float8E5M2FNUZ} {
		for c := 0; c < 256; c++ {
			f := tensor.Float8ToFloat32(dt, tensor.Float8(c))
			if f != f || math.IsInf(float64(f), 0) || (f == 0 && c != 0) {
				continue
			}
			assert.Equal(t, tensor.Float8(c), tensor.Float8From(dt, f, true), "%v code %#x (%v)", dt, c, f)
		}
	}
	x := tensor.From([]int{3}, []float32{0.5, -2, 300})
	y, err := x.Cast(tensor.Float8E4M3FN)
	require.NoError(t, err)
	back, err := y.Cast(tensor.Float32)
	require.NoError(t, err)
	assert.Equal(t, []float32{0.5, -2, 288}, back.Float32s())
}
