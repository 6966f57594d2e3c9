// Package cephes holds the constants of Cephes' float32 expf and tanhf
// that the kernel generators (this module's programs: the amd64 kernels,
// ./lstm and ./wino's NEON kernels) all emit, so that they are written
// once.
package cephes

// Log2e is log2(e); Ln2Hi and Ln2Lo split ln 2 into a high part exact in
// a float32 and a low part, for the range reduction r = x - n·ln 2.
const (
	Log2e = 1.44269504088896341
	Ln2Hi = 0.693359375
	Ln2Lo = -2.12194440e-4
)

// ExpP is the degree-5 polynomial P of e^r = 1 + r + r²·P(r) on
// [-ln2/2, ln2/2], from its highest coefficient to its lowest.
var ExpP = [6]float32{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

// TanhSmall is the |x| below which tanh(x) = x + x·(s·TanhP(s)) with
// s = x², and above which 1 - 2/(e^2|x| + 1).
const TanhSmall = 0.625

// TanhP is the degree-4 polynomial of tanhf's small form, from its
// highest coefficient to its lowest.
var TanhP = [5]float32{-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1}
