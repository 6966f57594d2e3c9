package ops

import (
	"fmt"
	"testing"
)

// BenchmarkSoftmaxSmall is the Softmax node of a small dense model's
// logits (4×10, keras/mnist_mlp_tf2onnx), output allocation included
// (no arena here: a heap allocation).
func BenchmarkSoftmaxSmall(b *testing.B) { benchEw(b, "Softmax", ewBenchInput(4, 10)) }

// BenchmarkSoftmaxRows times the rows alone (no output allocation), over
// rows of 10 and 1000 values: softmaxRow32 (the exponentials from
// asm.Exp, vectorized unless the kernels are the generic ones) and the
// generic softmaxRow.
func BenchmarkSoftmaxRows(b *testing.B) {
	for _, c := range []struct{ rows, n int }{{4, 10}, {1, 10}, {4, 1000}} {
		for _, way := range []string{"generic", "row32"} {
			b.Run(fmt.Sprintf("%dx%d/%s", c.rows, c.n, way), func(b *testing.B) {
				x := ewBenchInput(c.rows, c.n).Float32s()
				d := make([]float32, len(x))
				for i := 0; i < b.N; i++ {
					for r := 0; r < c.rows; r++ {
						dr, xr := d[r*c.n:(r+1)*c.n], x[r*c.n:(r+1)*c.n]
						if way == "generic" {
							softmaxRow(dr, xr, smSoftmax, expSlice32)
						} else {
							softmaxRow32(dr, xr, false)
						}
					}
				}
			})
		}
	}
}
