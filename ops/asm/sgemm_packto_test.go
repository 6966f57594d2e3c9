package asm

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPackBPartToMatchesPackBPart checks that packing a B in column parts
// with PackBPartTo, and taking the header with j0 = j1 = 0, gives what
// PackBPart gives, over awkward sizes, both layouts and a misaligned
// buffer.
func TestPackBPartToMatchesPackBPart(t *testing.T) {
	tests := []struct {
		name   string
		transB bool
		k, n   int
		parts  int // column parts (in panels)
		skew   int // floats the buffer starts past an aligned one
	}{
		{"one part", false, 7, 5, 1, 0},
		{"two parts", false, 300, 3*panelN + 5, 2, 1},
		{"transposed", true, 257, 4 * panelN, 3, 3},
		{"deep", false, 1030, 2*panelN + 1, 2, 2},
		{"empty", false, 0, 9, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, cols := tc.k, tc.n
			if tc.transB {
				rows, cols = tc.n, tc.k
			}
			b := make([]float32, rows*cols)
			for i := range b {
				b[i] = rand.Float32()
			}
			ldb := max(cols, 1)
			want := PackBInto(tc.transB, tc.k, tc.n, b, ldb, make([]float32, PackedBLen(tc.k, tc.n)))
			buf := make([]float32, PackedBLen(tc.k, tc.n)+tc.skew)[tc.skew:]
			panels := (tc.n + panelN - 1) / panelN
			per := max(1, (panels+tc.parts-1)/tc.parts)
			for j0 := 0; j0 < tc.n; j0 += per * panelN {
				var part PackedB
				PackBPartTo(&part, tc.transB, tc.k, tc.n, b, ldb, buf, j0, min(j0+per*panelN, tc.n))
			}
			var got PackedB
			PackBPartTo(&got, tc.transB, tc.k, tc.n, b, ldb, buf, 0, 0)
			require.Equal(t, [4]int{want.k, want.n, want.kcb, want.npad}, [4]int{got.k, got.n, got.kcb, got.npad})
			require.True(t, slices.Equal(want.data, got.data), "packed data differs")
		})
	}
}

func TestColsToMatchesCols(t *testing.T) {
	b := make([]float32, 5*(3*panelN+2))
	pb := PackB(false, 5, 3*panelN+2, b, 3*panelN+2)
	for _, r := range [][2]int{{0, 3*panelN + 2}, {panelN, 2 * panelN}, {2 * panelN, 3*panelN + 2}, {0, 0}} {
		var got PackedB
		pb.ColsTo(&got, r[0], r[1])
		require.Equal(t, *pb.Cols(r[0], r[1]), got, "columns %v", r)
	}
	require.Panics(t, func() {
		var got PackedB
		pb.ColsTo(&got, 1, 2)
	})
}
