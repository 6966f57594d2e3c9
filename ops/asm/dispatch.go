package asm

import "os"

// sgemmImpl is one implementation of the SGEMM kernels. The driver in
// sgemm.go (blocking, packing, edges) is shared; an implementation brings
// the micro-kernel and, optionally, a matrix-vector kernel for m == 1.
type sgemmImpl struct {
	name      string // ISA level, as INFER_KERNELS names it
	available bool   // whether this CPU (and OS) can run it
	mr        int    // rows of A per tile, at most maxMR

	// tile sets C[i][j] = alpha*Σp a[i*lda+p]*b[p*panelN+j] + beta*C[i][j]
	// for i < mm ≤ mr and j < nn ≤ panelN, C unread when beta is 0; b is
	// a packed panel of k rows of panelN floats.
	tile func(k int, a []float32, lda int, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int)

	// tileP, when not nil, is tile on a packed A: a holds k steps of mm
	// floats (a[p*mm+i] is row i at step p), as packATiles lays them out.
	// Sgemm and SgemmPacked then take the packed-A driver
	// (sgemmBlockedPA), in which every tile reads one sequential stream
	// of A instead of mm strided rows.
	tileP func(k int, a []float32, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int)

	// gemv, when not nil, sets c = alpha*a·op(B) + beta*c for a 1×k row a
	// and unpacked B (n×k at stride ldb when transB, else k×n).
	gemv func(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32)

	// dots, when not nil, sets C[i][q] = Σp a[i*lda+p]*b[q*dotsLDB+p] +
	// beta*C[i][q] for i < m and q < nd (2 to dotColsMax), k ≤ dotsLDB,
	// C unread when beta is 0: sgemmActBlocked's dot-product columns
	// (dotCols) in one pass over A instead of nd calls of gemv. A row
	// gets the same bits whatever m and the rows around it.
	dots func(k int, a []float32, lda int, b []float32, c []float32, ldc int, beta float32, m, nd int)

	// gemvPacked, when not nil, is SgemmPacked's m == 1 product over one
	// k block: c[j] = alpha*Σp a[p]*b[panel j/32][p][j%32] + beta*c[j]
	// for j < n, c unread when beta is 0; b holds ceil(n/32) packed
	// panels of k rows one after the other.
	gemvPacked func(k int, a, b, c []float32, n int, alpha, beta float32)

	// tilePAct, when not nil, is tileP with alpha 1 followed by a
	// convolution's clamp epilogue (see sgemmActBlocked): C[i][j] =
	// min(max((Σp a[p*mm+i]*b[p*panelN+j] + beta*C[i][j] + bias[i]) +
	// z[i*ldc+j], lo), hi) (no z when nil; z has C's stride), for nn =
	// 16 or 32 columns only, bit for bit what tile and biasSumAct give.
	tilePAct func(k int, a []float32, b []float32, c []float32, ldc int, bias, z []float32, lo, hi, beta float32, mm, nn int)

	// tilePActN, when not nil, is tilePAct with beta 0 over nt tiles of
	// mr rows in one call: tile t reads a[t*mr*k:], writes C (and reads
	// z) from row t*mr and adds bias[t*mr*bstep:] (bstep 0 or 1).
	tilePActN func(k int, a []float32, b []float32, c []float32, ldc int, bias []float32, bstep int, z []float32, lo, hi float32, nn, nt int)

	// rows4, when not nil, computes four rows of C by ng (2 or 3) groups
	// of eight columns over k steps: C[i][8g+j] = alpha*Σp
	// a[i*lda+p]*b[g][p*panelN+j] + beta*C[i][8g+j] (C unread when beta
	// is 0), each group g read from b[g], a stretch of a packed panel,
	// bit for bit what tile gives for full-width columns; SgemmPacked
	// takes it for products of four rows (sgemm_smallm.go).
	rows4 func(k int, a []float32, lda int, b [3][]float32, c []float32, ldc int, alpha, beta float32, ng int)

	// tiles4, when set, makes SgemmPacked compute products of four rows
	// with the tiles, which are faster than rows4 there (rows4 then only
	// stands for the sums that the zero-skipping kernels reproduce).
	tiles4 bool

	// smallWork is the m*n*k below which the unpacked Go loops are used.
	smallWork int

	// direct, when not nil, replaces the blocked driver for Sgemm (not
	// for SgemmPacked): the generic implementation keeps its own packing
	// of both operands, which suits a scalar 4×4 kernel better.
	direct func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// maxMR bounds mr over all implementations (it sizes the buffer that
// holds a transposed tile of A).
const maxMR = 16

var sgemmGeneric = &sgemmImpl{name: "generic", available: true, mr: 4, tile: tileGeneric, smallWork: smallWork, direct: gemm[float32]}

// sgemmImpls lists every SGEMM implementation compiled in, best first;
// archSgemmImpls comes from the architecture's file (none with purego).
var sgemmImpls = append(append([]*sgemmImpl(nil), archSgemmImpls...), sgemmGeneric)

// sgemmDefault is the implementation Sgemm and SgemmPacked use, chosen
// once at start-up: the best one the CPU supports, or the one named by
// INFER_KERNELS (generic, avx2, avx512) if the CPU supports it.
var sgemmDefault = chooseSgemm(os.Getenv("INFER_KERNELS"))

func chooseSgemm(want string) *sgemmImpl {
	for _, im := range sgemmImpls {
		if im.available && im.name == want {
			return im
		}
	}
	for _, im := range sgemmImpls {
		if im.available {
			return im
		}
	}
	return sgemmGeneric
}

// SgemmImplementation returns the name of the SGEMM implementation in use
// (generic, avx2 or avx512), for logs and benchmark reports.
func SgemmImplementation() string { return sgemmDefault.name }
