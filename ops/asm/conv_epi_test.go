package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// convActs are the activations the convolution kernels are checked with.
var convActs = []ConvAct{
	ConvActNone(),
	{Lo: 0, Hi: float32(math.Inf(1))},
	{Lo: 0, Hi: 6},
	{Lo: -0.25, Hi: 0.5},
	{Leaky: true, Alpha: 0.1},
}

func convClose(got, want float32, tol float64) bool {
	if math.IsNaN(float64(want)) {
		return math.IsNaN(float64(got))
	}
	if got == want {
		return true
	}
	return math.Abs(float64(got-want)) <= tol*(1+math.Abs(float64(want)))
}

// epiCase is the input of an epilogue test: rows rows of n floats at
// stride lds in src (off floats into its buffer, so misaligned; NaN and
// -Inf at 1 and 2 where n > special), bias (nil without), and a
// reference and an output of rows rows at stride ldd, filled with guards.
type epiCase struct {
	name      string
	rows, n   int
	src, bias []float32
	lds, ldd  int
	want, got []float32
}

// newEpiCase draws the case of an epilogue with act (named by it) on rows
// rows of n floats at offset off.
func newEpiCase(r *rand.Rand, act ConvAct, rows, n, off int, withBias bool, special int) *epiCase {
	c := &epiCase{name: fmt.Sprintf("%+v/rows=%d/n=%d/off=%d/bias=%v", act, rows, n, off, withBias),
		rows: rows, n: n, lds: n + off + 2, ldd: n + 3}
	c.src = randSlice[float32](r, off+rows*c.lds)[off:]
	if n > special {
		c.src[1] = float32(math.NaN())
		c.src[2] = float32(math.Inf(-1))
	}
	if withBias {
		c.bias = randSlice[float32](r, rows+off)[off:]
	}
	c.want = make([]float32, rows*c.ldd+4)
	c.got = make([]float32, rows*c.ldd+4)
	for i := range c.want {
		c.want[i], c.got[i] = guard, guard
	}
	return c
}

// check fails t unless got equals want bit for bit (NaN for NaN).
func (c *epiCase) check(t *testing.T) {
	t.Helper()
	for i := range c.want {
		if !convClose(c.got[i], c.want[i], 0) {
			t.Fatalf("%s: element %d = %v, want %v", c.name, i, c.got[i], c.want[i])
		}
	}
}

// checkInPlace fails t unless the rows×n values of each of outs (outs[o]
// at stride lds[o]) are the reference's.
func (c *epiCase) checkInPlace(t *testing.T, outs [][]float32, lds []int) {
	t.Helper()
	for i := 0; i < c.rows; i++ {
		for j := 0; j < c.n; j++ {
			for o, out := range outs {
				if v := out[i*lds[o]+j]; !convClose(v, c.want[i*c.ldd+j], 0) {
					t.Fatalf("%s: in place %d (%d,%d) = %v, want %v", c.name, o, i, j, v, c.want[i*c.ldd+j])
				}
			}
		}
	}
}

func TestBiasAct(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, act := range convActs {
		for _, rows := range []int{1, 2, 3, 6, 7} {
			for _, n := range []int{0, 1, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 70} {
				for _, off := range []int{0, 1, 3} {
					for _, withBias := range []bool{false, true} {
						c := newEpiCase(r, act, rows, n, off, withBias, 2)
						biasActGo(rows, n, c.src, c.lds, c.bias, &act, c.want, c.ldd)
						BiasAct(rows, n, c.src, c.lds, c.bias, &act, c.got, c.ldd)
						c.check(t)
						// In place.
						inp := append([]float32(nil), c.src...)
						BiasAct(rows, n, inp, c.lds, c.bias, &act, inp, c.lds)
						c.checkInPlace(t, [][]float32{inp}, []int{c.lds})
					}
				}
			}
		}
	}
}

// TestScaleBiasAct checks ScaleBiasAct against its reference bit for
// bit (NaN, -Inf among the inputs, negative scales, misaligned rows and
// tails around the vector width), out of place and in place.
func TestScaleBiasAct(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, act := range convActs {
		for _, rows := range []int{1, 2, 3, 7} {
			for _, n := range []int{0, 1, 5, 7, 8, 9, 15, 16, 17, 33, 70} {
				for _, off := range []int{0, 1, 3} {
					c := newEpiCase(r, act, rows, n, off, true, 2)
					scale := randSlice[float32](r, rows+off)[off:]
					scaleBiasActGo(rows, n, c.src, c.lds, scale, c.bias, &act, c.want, c.ldd)
					ScaleBiasAct(rows, n, c.src, c.lds, scale, c.bias, &act, c.got, c.ldd)
					c.check(t)
					inp := append([]float32(nil), c.src...)
					ScaleBiasAct(rows, n, inp, c.lds, scale, c.bias, &act, inp, c.lds)
					c.checkInPlace(t, [][]float32{inp}, []int{c.lds})
				}
			}
		}
	}
}

func TestSgemmAct(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, act := range convActs[:3] {
		for _, c := range []gemmCase{{1, 1, 1}, {5, 7, 3}, {6, 32, 9}, {7, 33, 27}, {13, 65, 288}, {32, 300, 5}, {64, 257, 513}, {300, 70, 300}, {127, 40, 9}, {3, 1, 0}} {
			name := fmt.Sprintf("%+v/%dx%dx%d", act, c.m, c.n, c.k)
			lda, ldb, ldc := c.k+1, c.n+2, c.n+3
			a := randSlice[float32](r, max(1, c.m*lda))
			b := randSlice[float32](r, max(1, c.k*ldb))
			bias := randSlice[float32](r, c.m)
			want := make([]float32, c.m*ldc)
			got := make([]float32, c.m*ldc)
			for i := range got {
				got[i] = guard
			}
			sgemmRef(false, false, c.m, c.n, c.k, 1, a, lda, b, ldb, 0, want, ldc)
			for i := 0; i < c.m; i++ {
				for j := 0; j < c.n; j++ {
					want[i*ldc+j] = act.apply(want[i*ldc+j] + bias[i])
				}
				for j := c.n; j < ldc; j++ {
					want[i*ldc+j] = guard
				}
			}
			pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(b, ldb, p0, kb, j0, nb, dst) }
			SgemmAct(c.m, c.n, c.k, a, lda, pack, bias, &act, got, ldc)
			for i := range want {
				if !convClose(got[i], want[i], 1e-4) {
					t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
				}
			}
		}
	}
}

func BenchmarkPackBlock(b *testing.B) {
	kb, nb := 256, 256
	src := make([]float32, kb*nb)
	dst := make([]float32, kb*nb)
	b.SetBytes(int64(len(dst) * 4))
	for i := 0; i < b.N; i++ {
		PackBlock(src, nb, 0, kb, 0, nb, dst)
	}
}

func TestCopyRuns(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, kb := range []int{1, 2, 9, 33} {
		for _, np := range []int{1, 2, 5} {
			for _, off := range []int{0, 1, 3} {
				name := fmt.Sprintf("kb=%d/np=%d/off=%d", kb, np, off)
				src := randSlice[float32](r, 2000+off)[off:]
				rowOff := make([]int32, kb+off)[off:]
				for i := range rowOff {
					rowOff[i] = int32(r.Intn(1000))
				}
				// Random runs that tile each panel row, in column order.
				var runs []int32
				panelStart := make([]int32, np+1+off)[off:]
				for q := 0; q < np; q++ {
					panelStart[q] = int32(len(runs) / 3)
					for c := 0; c < 32; {
						n := 1 + r.Intn(32-c)
						runs = append(runs, int32(r.Intn(900)), int32(c), int32((n+7)/8))
						c += n
					}
				}
				panelStart[np] = int32(len(runs) / 3)
				runs = append(make([]int32, off), runs...)[off:]
				want := make([]float32, np*32*kb+CopyRunsSlack)
				got := make([]float32, np*32*kb+CopyRunsSlack+off)[off:]
				copyRunsGo(want, kb, np, src, rowOff, runs, panelStart)
				CopyRuns(got, kb, np, src, rowOff, runs, panelStart)
				for i := range want[:np*32*kb] {
					if got[i] != want[i] {
						t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("CopyRuns with a run past the source did not panic")
		}
	}()
	CopyRuns(make([]float32, 64), 1, 1, make([]float32, 10), []int32{0}, []int32{5, 0, 1}, []int32{0, 1})
}

// BenchmarkCopyRuns times CopyRuns on the run layouts of three
// convolutions: the MNIST CNN's second (runs of 11 columns), a ResNet 3×3
// at 56×56 (padded rows of 58: runs split by output rows) and a CIFAR one
// (rows of 30 outputs in rows of 32 inputs, so the run lengths of a panel
// vary: 30, 2 | 28, 4 | ...).
func BenchmarkCopyRuns(b *testing.B) {
	// image is the run of the output rows w wide in input rows ld apart.
	image := func(w, ld int) func(j, c int) (int, int) {
		return func(j, c int) (int, int) { return j/w*ld + j%w, min(w-j%w, 32-c) }
	}
	for _, bc := range []struct {
		name                    string
		kb, np, srcLen, rowStep int
		run                     func(j, c int) (off, n int) // column j, c in its panel
	}{
		{"mnist-conv2", 288, 4, 1 << 16, 100, func(j, c int) (int, int) { return j/32*40 + c, min(11, 32-c) }},
		{"resnet-56", 192, 8, 1 << 18, 300, image(56, 58)},
		{"cifar-30", 288, 28, 1 << 16, 30, image(30, 32)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := make([]float32, bc.srcLen)
			rowOff := make([]int32, bc.kb)
			for i := range rowOff {
				rowOff[i] = int32(i * bc.rowStep)
			}
			var runs []int32
			panelStart := make([]int32, bc.np+1)
			for q := 0; q < bc.np; q++ {
				panelStart[q] = int32(len(runs) / 3)
				for c := 0; c < 32; {
					off, n := bc.run(q*32+c, c)
					runs = append(runs, int32(off), int32(c), int32((n+7)/8))
					c += n
				}
			}
			panelStart[bc.np] = int32(len(runs) / 3)
			dst := make([]float32, bc.kb*bc.np*32+CopyRunsSlack)
			b.SetBytes(int64(bc.kb * bc.np * 32 * 4))
			for i := 0; i < b.N; i++ {
				CopyRuns(dst, bc.kb, bc.np, src, rowOff, runs, panelStart)
			}
		})
	}
}

// TestBiasSumAct checks the epilogue with a summand against its
// reference, bit for bit, over ragged widths, offsets and strides, and in
// place (src = dst, and z = dst).
func TestBiasSumAct(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, act := range convActs {
		for _, rows := range []int{1, 2, 3, 7} {
			for _, n := range []int{1, 5, 7, 8, 9, 15, 16, 17, 33, 70} {
				for _, off := range []int{0, 1, 3} {
					for _, withBias := range []bool{false, true} {
						c := newEpiCase(r, act, rows, n, off, withBias, 3)
						ldz := n + off + 5
						z := randSlice[float32](r, 2*off+rows*ldz)[2*off:]
						if n > 3 {
							z[3] = float32(math.NaN())
						}
						for i := 0; i < rows; i++ {
							var b float32
							if c.bias != nil {
								b = c.bias[i]
							}
							for j := 0; j < n; j++ {
								c.want[i*c.ldd+j] = act.apply((c.src[i*c.lds+j] + b) + z[i*ldz+j])
							}
						}
						BiasSumAct(rows, n, c.src, c.lds, c.bias, z, ldz, &act, c.got, c.ldd)
						c.check(t)
						inp := append([]float32(nil), c.src...)
						BiasSumAct(rows, n, inp, c.lds, c.bias, z, ldz, &act, inp, c.lds)
						inz := append([]float32(nil), z...)
						BiasSumAct(rows, n, c.src, c.lds, c.bias, inz, ldz, &act, inz, ldz)
						c.checkInPlace(t, [][]float32{inp, inz}, []int{c.lds, ldz})
					}
				}
			}
		}
	}
}

// TestSgemmActSum checks SgemmActSum against SgemmAct followed by the
// sum and the activation: the same values, bit for bit.
func TestSgemmActSum(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	none := ConvActNone()
	for _, act := range convActs {
		for _, c := range []gemmCase{{1, 1, 1}, {5, 7, 3}, {6, 32, 9}, {7, 33, 27}, {13, 65, 288}, {64, 257, 513}, {300, 70, 300}, {127, 40, 9}, {3, 5, 0}} {
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%+v/%dx%dx%d/bias=%v", act, c.m, c.n, c.k, withBias)
				lda, ldb, ldc, ldz := c.k+1, c.n+2, c.n+3, c.n+1
				a := randSlice[float32](r, max(1, c.m*lda))
				b := randSlice[float32](r, max(1, c.k*ldb))
				z := randSlice[float32](r, c.m*ldz)
				var bias []float32
				if withBias {
					bias = randSlice[float32](r, c.m)
				}
				pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(b, ldb, p0, kb, j0, nb, dst) }
				want := make([]float32, c.m*ldc)
				got := make([]float32, c.m*ldc)
				for i := range got {
					got[i], want[i] = guard, guard
				}
				SgemmAct(c.m, c.n, c.k, a, lda, pack, bias, &none, want, ldc)
				for i := 0; i < c.m; i++ {
					for j := 0; j < c.n; j++ {
						want[i*ldc+j] = act.apply(want[i*ldc+j] + z[i*ldz+j])
					}
				}
				SgemmActSum(c.m, c.n, c.k, a, lda, pack, bias, z, ldz, &act, got, ldc)
				for i := range want {
					if !convClose(got[i], want[i], 0) {
						t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestBiasSumActPacked checks the packed-rows epilogue against BiasSumAct
// over widths around the vector width, with and without bias and z; the
// guard values after the last row must stay.
func TestBiasSumActPacked(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	for _, act := range convActs {
		for _, rows := range []int{1, 2, 5} {
			for _, n := range []int{1, 7, 8, 9, 13, 26, 31} {
				for _, withBias := range []bool{false, true} {
					for _, withZ := range []bool{false, true} {
						name := fmt.Sprintf("%+v/rows=%d/n=%d/bias=%v/z=%v", act, rows, n, withBias, withZ)
						lds, ldz := n+3, n+1
						src := randSlice[float32](r, rows*lds)[:(rows-1)*lds+n]
						var bias, z []float32
						if withBias {
							bias = randSlice[float32](r, rows)
						}
						if withZ {
							z = randSlice[float32](r, rows*ldz)[:(rows-1)*ldz+n]
						}
						want := make([]float32, rows*n+5)
						got := make([]float32, rows*n+5)
						for i := range want {
							want[i], got[i] = guard, guard
						}
						BiasSumAct(rows, n, src, lds, bias, z, ldz, &act, want, n)
						BiasSumActPacked(rows, n, src, lds, bias, z, ldz, &act, got[:rows*n])
						for i := range want {
							if !convClose(got[i], want[i], 0) {
								t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}
