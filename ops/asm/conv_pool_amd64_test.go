//go:build !purego

package asm

import (
	"math"
	"testing"
)

// TestAnyNaN checks the NaN scan of MaxPlane at every position of
// blocks around the vector widths, and that a NaN beside the block (past
// its columns, below its rows) is not seen.
func TestAnyNaN(t *testing.T) {
	if !convAVX2 {
		t.Skip("no AVX2")
	}
	nan := float32(math.NaN())
	for _, rows := range []int{1, 2, 3} {
		for cols := 1; cols <= 75; cols++ {
			lds := cols + 5
			src := make([]float32, (rows+1)*lds+8)
			if anyNaNAVX2(&src[0], lds, rows, cols) {
				t.Fatalf("%d×%d: NaN in zeros", rows, cols)
			}
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					src[i*lds+j] = nan
					if !anyNaNAVX2(&src[0], lds, rows, cols) {
						t.Fatalf("%d×%d: NaN at (%d, %d) not seen", rows, cols, i, j)
					}
					src[i*lds+j] = 0
				}
				src[i*lds+cols] = nan
				if anyNaNAVX2(&src[0], lds, rows, cols) {
					t.Fatalf("%d×%d: NaN past row %d seen", rows, cols, i)
				}
				src[i*lds+cols] = 0
			}
			src[rows*lds] = nan
			if anyNaNAVX2(&src[0], lds, rows, cols) {
				t.Fatalf("%d×%d: NaN below the rows seen", rows, cols)
			}
		}
	}
}
