// Package asm holds raw-slice compute kernels: GEMM, convolution helpers,
// recurrent-cell math and activations. Each kernel has a pure-Go reference
// implementation here; faster implementations for specific CPUs are chosen
// once at start-up through golang.org/x/sys/cpu.
package asm

import "sync"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m×k, op(B) is k×n
// and C is m×n; lda, ldb and ldc are the row strides of A, B and C as
// stored. When beta is 0, C is not read (NaNs in C do not propagate).
// A and B are always read in full, so NaNs and infinities in them propagate
// as IEEE arithmetic says even where the other factor or alpha is zero.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm for float64 matrices.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

type float interface{ ~float32 | ~float64 }

// Blocking parameters. The micro-kernel computes an mr×nr tile of C from
// an mr-row panel of packed A and an nr-column panel of packed B, both
// kc deep; a kc×nc block of B and an mc×kc block of A are packed at a time.
const (
	mr = 4
	nr = 4
	kc = 256
	mc = 64
	nc = 1024

	// smallWork is the m*n*k below which packing does not pay.
	smallWork = 4096
)

func gemm[T float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 {
		for i := 0; i < m; i++ {
			scaleRow(c[i*ldc:i*ldc+n], beta)
		}
		return
	}
	if transA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
	if transB {
		_ = b[(n-1)*ldb+k-1]
	} else {
		_ = b[(k-1)*ldb+n-1]
	}
	if m*n*k < smallWork || m == 1 {
		gemmSmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleRow sets row to beta*row, or to zeros without reading it when beta
// is 0.
func scaleRow[T float](row []T, beta T) {
	switch beta {
	case 0:
		clear(row)
	case 1:
	default:
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmSmall computes C directly, without packing: dot products when rows
// of A and columns of op(B) are contiguous (B transposed), row updates
// (axpy, four rows of B at a time) otherwise.
func gemmSmall[T float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	var arow []T
	if transA {
		arow = make([]T, k)
	}
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if transA {
			for p := range arow {
				arow[p] = a[p*lda+i]
			}
		} else {
			arow = a[i*lda : i*lda+k]
		}
		if transB {
			dotRow(arow, b, ldb, alpha, beta, crow)
			continue
		}
		scaleRow(crow, beta)
		p := 0
		for ; p+4 <= k; p += 4 {
			a0, a1, a2, a3 := alpha*arow[p], alpha*arow[p+1], alpha*arow[p+2], alpha*arow[p+3]
			b0 := b[p*ldb : p*ldb+n]
			b1 := b[(p+1)*ldb : (p+1)*ldb+n]
			b2 := b[(p+2)*ldb : (p+2)*ldb+n]
			b3 := b[(p+3)*ldb : (p+3)*ldb+n]
			for j := range crow {
				crow[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
			}
		}
		for ; p < k; p++ {
			av := alpha * arow[p]
			for j, bv := range b[p*ldb : p*ldb+n] {
				crow[j] += av * bv
			}
		}
	}
}

// dotRow sets crow[j] = alpha*dot(arow, row j of b) + beta*crow[j],
// four columns at a time so that the sums are independent.
func dotRow[T float](arow, b []T, ldb int, alpha, beta T, crow []T) {
	k := len(arow)
	j := 0
	for ; j+4 <= len(crow); j += 4 {
		b0 := b[j*ldb : j*ldb+k]
		b1 := b[(j+1)*ldb : (j+1)*ldb+k]
		b2 := b[(j+2)*ldb : (j+2)*ldb+k]
		b3 := b[(j+3)*ldb : (j+3)*ldb+k]
		var s0, s1, s2, s3 T
		for p, av := range arow {
			s0 += av * b0[p]
			s1 += av * b1[p]
			s2 += av * b2[p]
			s3 += av * b3[p]
		}
		out := crow[j : j+4 : j+4]
		if beta == 0 {
			out[0], out[1], out[2], out[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		} else {
			out[0] = alpha*s0 + beta*out[0]
			out[1] = alpha*s1 + beta*out[1]
			out[2] = alpha*s2 + beta*out[2]
			out[3] = alpha*s3 + beta*out[3]
		}
	}
	for ; j < len(crow); j++ {
		brow := b[j*ldb : j*ldb+k]
		var s T
		for p, av := range arow {
			s += av * brow[p]
		}
		if beta == 0 {
			crow[j] = alpha * s
		} else {
			crow[j] = alpha*s + beta*crow[j]
		}
	}
}

// packBufs holds the packing buffers of one gemm call.
type packBufs[T float] struct {
	a, b []T
}

var (
	pool32 = sync.Pool{New: func() any {
		return &packBufs[float32]{a: make([]float32, mc*kc), b: make([]float32, kc*nc)}
	}}
	pool64 = sync.Pool{New: func() any {
		return &packBufs[float64]{a: make([]float64, mc*kc), b: make([]float64, kc*nc)}
	}}
)

func getBufs[T float]() (*packBufs[T], *sync.Pool) {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return pool32.Get().(*packBufs[T]), &pool32
	}
	return pool64.Get().(*packBufs[T]), &pool64
}

// gemmPacked is the cache-blocked path: B is packed kc×nc at a time into
// nr-wide column panels, A mc×kc at a time into mr-high row panels, and the
// micro-kernel multiplies one pair of panels into an mr×nr register tile.
func gemmPacked[T float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	bufs, pool := getBufs[T]()
	defer pool.Put(bufs)
	var tile [mr * nr]T
	// Split k into equal blocks of at most kc, so that no block is tiny.
	kcb := (k + (k+kc-1)/kc - 1) / ((k + kc - 1) / kc)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kcb {
			kb := min(kcb, k-pc)
			packB(transB, kb, nb, b, ldb, pc, jc, bufs.b)
			first := pc == 0
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(transA, mb, kb, a, lda, ic, pc, bufs.a)
				for jr := 0; jr < nb; jr += nr {
					nn := min(nr, nb-jr)
					bp := bufs.b[jr*kb : jr*kb+nr*kb]
					for ir := 0; ir < mb; ir += mr {
						mm := min(mr, mb-ir)
						ap := bufs.a[ir*kb : ir*kb+mr*kb]
						kernel4x4(kb, ap, bp, &tile)
						ci := (ic+ir)*ldc + jc + jr
						storeTile(&tile, mm, nn, c[ci:], ldc, alpha, beta, first)
					}
				}
			}
		}
	}
}

// storeTile writes the mm×nn corner of an accumulated tile into C: on the
// first k block C = alpha*tile + beta*C (C unread when beta is 0), later
// C += alpha*tile.
func storeTile[T float](tile *[mr * nr]T, mm, nn int, c []T, ldc int, alpha, beta T, first bool) {
	for r := 0; r < mm; r++ {
		crow := c[r*ldc : r*ldc+nn]
		t := tile[r*nr : r*nr+nn]
		switch {
		case !first:
			for j, v := range t {
				crow[j] += alpha * v
			}
		case beta == 0:
			for j, v := range t {
				crow[j] = alpha * v
			}
		default:
			for j, v := range t {
				crow[j] = alpha*v + beta*crow[j]
			}
		}
	}
}

// packA copies the mb×kb block of op(A) at (i0, p0) into mr-row panels:
// panel q holds rows q*mr.. as kb groups of mr values, zero-padded.
func packA[T float](trans bool, mb, kb int, a []T, lda, i0, p0 int, dst []T) {
	for ir := 0; ir < mb; ir += mr {
		mm := min(mr, mb-ir)
		pan := dst[ir*kb : ir*kb+mr*kb]
		if trans {
			// op(A)[i,p] = A[p,i]: the mr values of step p are contiguous.
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				d := pan[p*mr : p*mr+mr]
				if mm == mr {
					d[0], d[1], d[2], d[3] = src[0], src[1], src[2], src[3]
				} else {
					copy(d, src[:mm])
					clear(d[mm:])
				}
			}
			continue
		}
		for r := 0; r < mr; r++ {
			if r >= mm {
				for p := 0; p < kb; p++ {
					pan[p*mr+r] = 0
				}
				continue
			}
			src := a[(i0+ir+r)*lda+p0 : (i0+ir+r)*lda+p0+kb]
			for p, v := range src {
				pan[p*mr+r] = v
			}
		}
	}
}

// packB copies the kb×nb block of op(B) at (p0, j0) into nr-column
// panels: panel q holds columns q*nr.. as kb groups of nr values,
// zero-padded.
func packB[T float](trans bool, kb, nb int, b []T, ldb, p0, j0 int, dst []T) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		pan := dst[jr*kb : jr*kb+nr*kb]
		if !trans {
			for p := 0; p < kb; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				d := pan[p*nr : p*nr+nr]
				if nn == nr {
					d[0], d[1], d[2], d[3] = src[0], src[1], src[2], src[3]
				} else {
					copy(d, src[:nn])
					clear(d[nn:])
				}
			}
			continue
		}
		// op(B)[p,j] = B[j,p]: column j of op(B) is row j of B.
		for c := 0; c < nr; c++ {
			if c >= nn {
				for p := 0; p < kb; p++ {
					pan[p*nr+c] = 0
				}
				continue
			}
			src := b[(j0+jr+c)*ldb+p0 : (j0+jr+c)*ldb+p0+kb]
			for p, v := range src {
				pan[p*nr+c] = v
			}
		}
	}
}

// kernel4x4 multiplies a packed 4-row panel of A by a packed 4-column panel
// of B, both k deep, into tile (overwritten). It takes two k steps per
// iteration so that each accumulator is loaded and stored once per pair.
func kernel4x4[T float](k int, a, b []T, tile *[mr * nr]T) {
	var acc [mr * nr]T
	a = a[:mr*k]
	b = b[:nr*k]
	for len(a) >= 2*mr && len(b) >= 2*nr {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		e0, e1, e2, e3 := b[4], b[5], b[6], b[7]
		a0, f0 := a[0], a[4]
		acc[0] += a0*b0 + f0*e0
		acc[1] += a0*b1 + f0*e1
		acc[2] += a0*b2 + f0*e2
		acc[3] += a0*b3 + f0*e3
		a1, f1 := a[1], a[5]
		acc[4] += a1*b0 + f1*e0
		acc[5] += a1*b1 + f1*e1
		acc[6] += a1*b2 + f1*e2
		acc[7] += a1*b3 + f1*e3
		a2, f2 := a[2], a[6]
		acc[8] += a2*b0 + f2*e0
		acc[9] += a2*b1 + f2*e1
		acc[10] += a2*b2 + f2*e2
		acc[11] += a2*b3 + f2*e3
		a3, f3 := a[3], a[7]
		acc[12] += a3*b0 + f3*e0
		acc[13] += a3*b1 + f3*e1
		acc[14] += a3*b2 + f3*e2
		acc[15] += a3*b3 + f3*e3
		a = a[2*mr:]
		b = b[2*nr:]
	}
	if len(a) >= mr && len(b) >= nr {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		for r := 0; r < mr; r++ {
			ar := a[r]
			acc[r*nr+0] += ar * b0
			acc[r*nr+1] += ar * b1
			acc[r*nr+2] += ar * b2
			acc[r*nr+3] += ar * b3
		}
	}
	*tile = acc
}
