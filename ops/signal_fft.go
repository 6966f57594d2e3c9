package ops

import (
	"math"
	"math/bits"
)

// This file holds the fast Fourier transform behind DFT and STFT: an
// iterative radix-2 transform for power-of-two lengths and Bluestein's
// chirp-z algorithm (three radix-2 transforms of a padded length) for every
// other length, so that any length costs O(n log n). Everything is computed
// in complex128 whatever the tensor's element type.

// fftPlan holds the tables of one transform length. It is immutable once
// built, so one plan serves many goroutines; each needs its own scratch
// (see newScratch).
type fftPlan struct {
	n     int
	m     int          // radix-2 length: n itself, or Bluestein's padded length
	tw    []complex128 // tw[k] = exp(-2πik/m), k < m/2
	chirp []complex128 // Bluestein only: chirp[k] = exp(-πik²/n), k < n
	bfft  []complex128 // Bluestein only: FFT of the conjugate chirp filter, divided by m
}

// newFFTPlan returns the plan for transforms of length n (n >= 1).
func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n, m: n}
	if n&(n-1) != 0 {
		p.m = 1 << bits.Len(uint(2*n-2)) // smallest power of two >= 2n-1
	}
	p.tw = make([]complex128, p.m/2)
	for k := range p.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(p.m))
		p.tw[k] = complex(c, s)
	}
	if p.m == n {
		return p
	}
	p.chirp = make([]complex128, n)
	for k := range p.chirp {
		// k² mod 2n keeps the angle small, and so exact, for large k.
		k2 := (uint64(k) * uint64(k)) % uint64(2*n)
		s, c := math.Sincos(-math.Pi * float64(k2) / float64(n))
		p.chirp[k] = complex(c, s)
	}
	b := make([]complex128, p.m)
	scale := complex(1/float64(p.m), 0)
	for k := 0; k < n; k++ {
		v := conj(p.chirp[k]) * scale
		b[k] = v
		if k > 0 {
			b[p.m-k] = v
		}
	}
	radix2(b, p.tw, false)
	p.bfft = b
	return p
}

// newScratch returns the work buffer transform needs (nil for radix-2).
func (p *fftPlan) newScratch() []complex128 {
	if p.m == p.n {
		return nil
	}
	return make([]complex128, p.m)
}

// transform replaces x (length n) by its DFT, sum_j x[j] exp(∓2πijk/n),
// with the minus sign when inverse is false. The inverse is not scaled
// by 1/n. scratch comes from newScratch.
func (p *fftPlan) transform(x []complex128, inverse bool, scratch []complex128) {
	if p.m == p.n {
		radix2(x, p.tw, inverse)
		return
	}
	// The inverse transform is the conjugate of the forward transform of
	// the conjugate.
	a := scratch
	for k := 0; k < p.n; k++ {
		v := x[k]
		if inverse {
			v = conj(v)
		}
		a[k] = v * p.chirp[k]
	}
	clear(a[p.n:])
	radix2(a, p.tw, false)
	for k := range a {
		a[k] *= p.bfft[k]
	}
	radix2(a, p.tw, true)
	for k := 0; k < p.n; k++ {
		v := a[k] * p.chirp[k]
		if inverse {
			v = conj(v)
		}
		x[k] = v
	}
}

// radix2 transforms x in place; len(x) is a power of two and tw holds
// exp(-2πik/len(x)) for k < len(x)/2. The inverse uses conjugate twiddles
// and is not scaled.
func radix2(x []complex128, tw []complex128, inverse bool) {
	n := len(x)
	if n <= 1 {
		return
	}
	shift := uint(64 - bits.Len(uint(n-1)))
	for i := 0; i < n; i++ {
		j := int(bits.Reverse64(uint64(i)) >> shift)
		if j > i {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size>>1, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := tw[k*step]
				if inverse {
					w = conj(w)
				}
				u, v := x[start+k], x[start+k+half]*w
				x[start+k], x[start+k+half] = u+v, u-v
			}
		}
	}
}

func conj(c complex128) complex128 { return complex(real(c), -imag(c)) }
