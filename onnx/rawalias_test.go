package onnx

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAliasRawMatchesCopy(t *testing.T) {
	vals := []float32{1.5, -2, float32(math.Inf(1)), 3e-38}
	buf := make([]byte, 4*len(vals)+1)
	tests := []struct {
		name      string
		raw       []byte
		wantAlias bool
	}{
		{"aligned", buf[:4*len(vals)], hostLittleEndian},
		{"misaligned", buf[1:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, v := range vals {
				binary.LittleEndian.PutUint32(tc.raw[4*i:], math.Float32bits(v))
			}
			got, ok := aliasRaw(tensor.Float32, []int{2, 2}, tc.raw)
			assert.Equal(t, tc.wantAlias, ok)
			if !ok {
				return
			}
			assert.Equal(t, vals, got.Float32s())
			assert.Equal(t, []int{2, 2}, got.Shape())
			want := tensor.MustNew(tensor.Float32, 2, 2)
			fillRaw(want, tc.raw)
			require.Equal(t, want.Float32s(), got.Float32s())
		})
	}
}
