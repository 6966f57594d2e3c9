package asm

import (
	"fmt"
	"sync"
	"unsafe"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m×k, op(B) is k×n
// and C is m×n; lda, ldb and ldc are the row strides of A, B and C as
// stored. When beta is 0, C is not read (NaNs in C do not propagate).
// A and B are always read in full, so NaNs and infinities in them propagate
// as IEEE arithmetic says even where the other factor or alpha is zero.
// It panics when a slice is too short for its dimensions and stride.
//
// When B is a constant (weights), pack it once with PackB and call
// SgemmPacked instead.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(sgemmDefault, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// PackedB is the right-hand operand op(B) of a product (k×n) packed once
// into the layout the SGEMM micro-kernels read, for any number of
// SgemmPacked calls. It is immutable, so one PackedB may be used from many
// goroutines at once.
//
// Layout: k is split into blocks of kcb rows (the last may be shorter);
// block p (rows p*kcb..) holds ceil(n/32) panels of 32 columns, each
// kb rows of 32 floats with the columns past n zero; the block starts at
// data[p*kcb*npad] and its panel q at q*32*kb after that.
type PackedB struct {
	k, n, kcb, npad int
	j0              int // first column of this view in the packed data (a multiple of panelN)
	data            []float32
}

// K returns the inner dimension of the packed matrix (rows of op(B)).
func (p *PackedB) K() int { return p.k }

// N returns the number of columns of op(B).
func (p *PackedB) N() int { return p.n }

// Cols returns the columns j0 ≤ j < j1 of p as a PackedB that shares its
// storage, for splitting one product over goroutines by columns: thread t
// calls SgemmPacked(..., j1-j0, ..., p.Cols(j0, j1), ..., c[j0:], ldc).
// j0 must be a multiple of ColAlign.
func (p *PackedB) Cols(j0, j1 int) *PackedB {
	q := new(PackedB)
	p.ColsTo(q, j0, j1)
	return q
}

// ColAlign is the column granularity of PackedB.Cols.
const ColAlign = panelN

// PackB packs op(B) (k×n; B stored k×n at stride ldb, or n×k when transB)
// for SgemmPacked. The result does not alias b.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	return PackBInto(transB, k, n, b, ldb, nil)
}

// PackedBLen is the length of the buffer PackBInto needs for a k×n op(B).
func PackedBLen(k, n int) int { return k*roundUp(n, panelN) + 16 }

// PackBInto is PackB writing into buf (of at least PackedBLen(k, n)
// floats, any contents) instead of fresh memory, for a product whose B
// changes from call to call; the PackedB is valid while buf is not
// reused. buf nil means fresh memory.
func PackBInto(transB bool, k, n int, b []float32, ldb int, buf []float32) *PackedB {
	return PackBPart(transB, k, n, b, ldb, buf, 0, n)
}

// PackBPart packs only the columns j0 ≤ j < j1 of op(B) (j0, and j1 unless
// it is n, multiples of ColAlign) into buf, where PackBInto(transB, k, n, b, ldb, buf) puts
// them, and returns the PackedB that PackBInto returns: goroutines that
// each pack a part of the columns into one buf (not nil) together make
// the whole PackedB, valid once all of them have returned.
func PackBPart(transB bool, k, n int, b []float32, ldb int, buf []float32, j0, j1 int) *PackedB {
	pb := new(PackedB)
	packBPart(pb, transB, k, n, b, ldb, buf, j0, j1)
	return pb
}

// packBPart is PackBPart into *dst; a nil buf gets a new aligned one.
func packBPart(dst *PackedB, transB bool, k, n int, b []float32, ldb int, buf []float32, j0, j1 int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("asm.PackB: negative dimension k=%d n=%d", k, n))
	}
	if j0 < 0 || j1 > n || j0 > j1 || j0%panelN != 0 || j1 < n && j1%panelN != 0 {
		panic(fmt.Sprintf("asm.PackBPart: columns %d..%d of %d: j0 and j1 < n must be multiples of %d", j0, j1, n, panelN))
	}
	*dst = PackedB{k: k, n: n, kcb: kBlock(k), npad: roundUp(n, panelN)}
	if k == 0 || n == 0 {
		return
	}
	checkB(transB, k, n, b, ldb)
	if buf == nil {
		dst.data = alignedFloats(k * dst.npad)
	} else {
		if len(buf) < PackedBLen(k, n) {
			panic(fmt.Sprintf("asm.PackBInto: buffer of %d floats for %d×%d (want %d)", len(buf), k, n, PackedBLen(k, n)))
		}
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))&63) / 4
		if off != 0 {
			off = 16 - off
		}
		dst.data = buf[off : off+k*dst.npad : off+k*dst.npad]
	}
	for pc := 0; pc < k && j0 < j1; pc += dst.kcb {
		kb := min(dst.kcb, k-pc)
		packBBlock(transB, kb, j1-j0, b, ldb, pc, j0, dst.data[pc*dst.npad+j0*kb:])
	}
}

// SgemmPacked is Sgemm with op(B) packed by PackB: C = alpha*op(A)*B +
// beta*C with op(A) m×k, B k×n (k and n are those of pb) and C m×n.
func SgemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	sgemmPacked(sgemmDefault, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, nil)
}

// Epilogue is a function applied to C block by block once the block's
// values are final: c and ldc are the C and row stride given to
// SgemmPackedEpi, and the block is rows×cols at row i0, column j0. It
// must act on each element alone (a bias, an activation), since blocks
// come in no particular order.
type Epilogue func(c []float32, ldc, i0, j0, rows, cols int)

// SgemmPackedEpi is SgemmPacked followed by epi over all of C, applied to
// each tile of C right after its last product, while it is in L1 (epi
// nil: SgemmPacked).
func SgemmPackedEpi(transA bool, m, n, k int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, epi Epilogue) {
	sgemmPacked(sgemmDefault, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, epi)
}

// TileRows is the number of rows of C that one micro-kernel call
// computes. A product split by rows into blocks that start at multiples
// of it gives the same results as the whole product, bit for bit.
func TileRows() int { return sgemmDefault.mr }

// SgemmPacks reports whether Sgemm packs B for a product of these
// dimensions (its cache-blocked path), in which case SgemmPacked on B
// packed by PackB gives the same results bit for bit. Sgemm multiplies
// single rows and small products without packing, in another order of
// operations; so does the generic implementation always. Callers that
// must give the same results whether B is a packed constant or not
// (an exported model and the trainer that made it) use SgemmPacked only
// where this is true.
func SgemmPacks(transA bool, m, n, k int) bool {
	im := sgemmDefault
	return im.direct == nil && m > 1 && n > 0 && k > 0 && m*n*k >= im.smallWork
}

// SgemmPacksA reports whether Sgemm and SgemmPacked copy op(A) into
// packed tiles for a product with op(A) m×k and n columns, as they do
// when A is transposed, or large and used for many columns, or the
// product is both wide and deep (a convolution's), and the
// implementation has tiles for a packed A: every call then reads all of
// op(A) once more. A caller that splits such a product over goroutines
// does better to split it by rows than by columns.
func SgemmPacksA(transA bool, m, n, k int) bool {
	return usePackedA(sgemmDefault, transA, m, n, k)
}

// usePackedA is whether sgemmBlockedEpi takes the packed-A driver.
func usePackedA(im *sgemmImpl, transA bool, m, n, k int) bool {
	return im.tileP != nil && (im.tile == nil || transA || m*k >= paMinA && n > nc || n >= paMinN && k >= paMinK)
}

// Blocking of the SGEMM driver for tiles that read A in place
// (sgemmBlocked: implementations without a packed-A tile, and SgemmAct).
// B is packed in panels of panelN columns, kc deep; a kc×nc block of B
// (256 KiB: half of Zen 3's L2, a quarter of Zen 4's) stays in L2 while
// tiles of mr rows of A (read in place, mr×kc floats, in L1) sweep across
// its panels. Measured on Zen 3, kc 128..512 and nc 128..512 were all
// within the noise of this choice.
const (
	panelN = 32
	kc     = 256
	nc     = 256
)

// kBlock splits k into equal blocks of at most kc, so that no block is
// tiny, and returns the block depth.
func kBlock(k int) int {
	if k <= kc {
		return max(k, 1)
	}
	nb := (k + kc - 1) / kc
	return (k + nb - 1) / nb
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// AlignedFloats returns n zeroed float32s starting on a 64-byte boundary
// (a cache line, and one AVX-512 vector: a vector load or store at a
// multiple of 16 floats from there never straddles two lines).
func AlignedFloats(n int) []float32 { return alignedFloats(n) }

// alignedFloats returns n zeroed float32s starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(s)))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

func checkA(transA bool, m, k int, a []float32, lda int) {
	if transA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
}

func checkB(transB bool, k, n int, b []float32, ldb int) {
	if transB {
		_ = b[(n-1)*ldb+k-1]
	} else {
		_ = b[(k-1)*ldb+n-1]
	}
}

// sgemm is Sgemm with an explicit implementation.
func sgemm(im *sgemmImpl, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if im.direct != nil {
		im.direct(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
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
	checkA(transA, m, k, a, lda)
	checkB(transB, k, n, b, ldb)
	if m == 1 && im.gemv != nil && !transA {
		if transB || im.gemvPacked == nil {
			im.gemv(transB, n, k, alpha, a, b, ldb, beta, c)
			return
		}
		// In the k blocks of a packed B, each summed into c as
		// SgemmPacked sums them, so that a Dense layer on one row
		// gives the same bits on its packed constant (SgemvPacked).
		kcb := kBlock(k)
		for pc := 0; pc < k; pc += kcb {
			bet := beta
			if pc > 0 {
				bet = 1
			}
			im.gemv(false, n, min(kcb, k-pc), alpha, a[pc:], b[pc*ldb:], ldb, bet, c)
		}
		return
	}
	if m*n*k < im.smallWork || m == 1 {
		gemmSmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmBlocked(im, transA, m, n, k, alpha, a, lda, transB, b, ldb, nil, beta, c, ldc)
}

// sgemmPacked is SgemmPackedEpi with an explicit implementation.
func sgemmPacked(im *sgemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, epi Epilogue) {
	if k != pb.k || n != pb.n {
		panic(fmt.Sprintf("asm.SgemmPacked: k=%d n=%d but B was packed as %d×%d", k, n, pb.k, pb.n))
	}
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 {
		for i := 0; i < m; i++ {
			scaleRow(c[i*ldc:i*ldc+n], beta)
		}
		if epi != nil {
			epi(c, ldc, 0, 0, m, n)
		}
		return
	}
	checkA(transA, m, k, a, lda)
	if m == 1 && !transA && im.gemvPacked != nil {
		// One row: each k block streams its panels once.
		for pc := 0; pc < k; pc += pb.kcb {
			kb := min(pb.kcb, k-pc)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			im.gemvPacked(kb, a[pc:pc+kb], pb.data[pc*pb.npad+pb.j0*kb:], c[:n], n, alpha, bet)
		}
		if epi != nil {
			epi(c, ldc, 0, 0, 1, n)
		}
		return
	}
	if sgemmRows4(im, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, epi) {
		return
	}
	sgemmBlockedEpi(im, transA, m, n, k, alpha, a, lda, false, nil, 0, pb, beta, c, ldc, epi)
}

// sgemmBufs holds the packing buffers of one sgemm call.
type sgemmBufs struct {
	a []float32 // op(A) tile when A is transposed: mr×kc
	b []float32 // a kc×nc block of B in panels
}

var sgemmPool = sync.Pool{New: func() any {
	return &sgemmBufs{a: make([]float32, maxMR*kc), b: alignedFloats(kc * nc)}
}}

// sgemmBlocked is the cache-blocked driver: for each kc×nc block of B
// (packed here, or taken from pb), tiles of mr rows of op(A) are multiplied
// by each 32-column panel of the block. A is read in place unless
// transposed, in which case each mr×kc tile is transposed into a buffer.
// An implementation with a packed-A tile takes sgemmBlockedPA instead when
// A is transposed, or large and used for many columns (see paMinA).
func sgemmBlocked(im *sgemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int, transB bool, b []float32, ldb int, pb *PackedB, beta float32, c []float32, ldc int) {
	sgemmBlockedEpi(im, transA, m, n, k, alpha, a, lda, transB, b, ldb, pb, beta, c, ldc, nil)
}

// sgemmBlockedEpi is sgemmBlocked that applies epi (when not nil) to each
// tile after its last k block.
func sgemmBlockedEpi(im *sgemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int, transB bool, b []float32, ldb int, pb *PackedB, beta float32, c []float32, ldc int, epi Epilogue) {
	if usePackedA(im, transA, m, n, k) {
		sgemmBlockedPA(im, transA, m, n, k, alpha, a, lda, transB, b, ldb, pb, beta, c, ldc, epi)
		return
	}
	var bufs *sgemmBufs
	if pb == nil || transA {
		// Packed B and A read in place need no buffer.
		bufs = sgemmPool.Get().(*sgemmBufs)
		defer sgemmPool.Put(bufs)
	}
	var bbuf []float32 // B's block when not packed ahead
	if bufs != nil {
		bbuf = bufs.b
	}
	kcb := kBlock(k)
	if pb != nil {
		kcb = pb.kcb
	}
	mr := im.mr
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kcb {
			kb := min(kcb, k-pc)
			bp := bBlock(pb, transB, kb, nb, b, ldb, pc, jc, bbuf)
			bet := beta
			if pc > 0 {
				bet = 1 // later k blocks accumulate onto the first
			}
			last := epi != nil && pc+kb >= k
			for ic := 0; ic < m; ic += mr {
				mm := min(mr, m-ic)
				var ap []float32
				ldap := lda
				if transA {
					ap, ldap = bufs.a, kb
					transposeA(mm, kb, a, lda, pc, ic, ap)
				} else {
					ap = a[ic*lda+pc:]
				}
				for jr := 0; jr < nb; jr += panelN {
					ct := c[ic*ldc+jc+jr:]
					nn := min(panelN, nb-jr)
					im.tile(kb, ap, ldap, bp[jr*kb:], ct, ldc, alpha, bet, mm, nn)
					if last {
						epi(c, ldc, ic, jc+jr, mm, nn)
					}
				}
			}
		}
	}
}

// Blocking of the packed-A driver (sgemmBlockedPA), as in BLIS: a kc×ncPA
// block of B is packed (or taken from a PackedB) and stays in L2 and L3;
// an mcPA×kc block of A is packed into tiles and stays in L2; one 32-wide
// panel of B at a time is multiplied by every tile of the A block, so
// that the panel is reused from L1 and L2 while the tiles of A stream in
// from L2, each as one sequential read. Measured on Zen 3 (n = 512 and
// 1024): mcPA from 72 to 240 were within the noise; at n = 1024, ncPA =
// 1024 beat 512 by about 3% (A is packed half as often), and 256 was
// worse still.
const (
	mcPA = 168 // a multiple of every mr with a tileP (6 and 14)
	ncPA = 1024

	// paMinA is the size of op(A) (m*k floats) from which an
	// implementation that has both kinds of tile packs A, when there are
	// more than nc columns (sgemmBlocked reads A once per nc columns): a
	// smaller A stays in L2, and a narrower product reads it once anyway,
	// so that its packing costs more (a few percent at n = 256, up to 15%
	// at 64) than it saves. Transposed A is always packed. Both drivers
	// give the same results bit for bit.
	paMinA = 1 << 18

	// paMinN and paMinK: a product at least paMinN wide and paMinK deep
	// packs A whatever its size (a convolution's few output channels
	// against many positions): packing costs one read of A per ncPA
	// columns, and the tiles then read A as one stream from L2 instead
	// of mr strided rows, which measured 3-10% faster on Zen 3 (m = 64
	// to 256, k = 256..1152, n = 784..3136). Shallower or narrower
	// products measured the same or slower.
	paMinN = 3 * nc
	paMinK = 128
)

// sgemmPABufs holds the packing buffers of one sgemmBlockedPA call.
type sgemmPABufs struct {
	a []float32 // an mcPA×kc block of op(A) in tiles
	b []float32 // a kc×ncPA block of op(B) in panels
}

var sgemmPAPool = sync.Pool{New: func() any {
	return &sgemmPABufs{a: alignedFloats(mcPA * kc), b: alignedFloats(kc * ncPA)}
}}

// bBlock returns the packed kb×nb block of B at row pc, column jc: a
// slice of pb when B was packed ahead, else B packed into buf.
func bBlock(pb *PackedB, transB bool, kb, nb int, b []float32, ldb, pc, jc int, buf []float32) []float32 {
	if pb != nil {
		return pb.data[pc*pb.npad+(pb.j0+jc)*kb:]
	}
	packBBlock(transB, kb, nb, b, ldb, pc, jc, buf)
	return buf
}

// sgemmBlockedPA is sgemmBlockedEpi for an implementation with a packed-A
// tile (im.tileP): the loops of BLIS, B panels outside and tiles of A
// inside, with both operands packed. The tiles are the same as
// sgemmBlocked's (mr rows from row 0, the last one shorter), so that a
// product split by rows at multiples of mr, or by columns at multiples of
// panelN, gives the same results.
func sgemmBlockedPA(im *sgemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int, transB bool, b []float32, ldb int, pb *PackedB, beta float32, c []float32, ldc int, epi Epilogue) {
	bufs := sgemmPAPool.Get().(*sgemmPABufs)
	defer sgemmPAPool.Put(bufs)
	kcb := kBlock(k)
	if pb != nil {
		kcb = pb.kcb
	}
	mr := im.mr
	for jc := 0; jc < n; jc += ncPA {
		nb := min(ncPA, n-jc)
		for pc := 0; pc < k; pc += kcb {
			kb := min(kcb, k-pc)
			bp := bBlock(pb, transB, kb, nb, b, ldb, pc, jc, bufs.b)
			bet := beta
			if pc > 0 {
				bet = 1 // later k blocks accumulate onto the first
			}
			last := epi != nil && pc+kb >= k
			for ic := 0; ic < m; ic += mcPA {
				mb := min(mcPA, m-ic)
				ap := bufs.a[:mb*kb]
				packATiles(transA, mr, mb, kb, a, lda, ic, pc, ap)
				for jr := 0; jr < nb; jr += panelN {
					nn := min(panelN, nb-jr)
					bpan := bp[jr*kb : jr*kb+panelN*kb]
					for ir := 0; ir < mb; ir += mr {
						mm := min(mr, mb-ir)
						im.tileP(kb, ap[ir*kb:(ir+mm)*kb], bpan, c[(ic+ir)*ldc+jc+jr:], ldc, alpha, bet, mm, nn)
					}
					if last {
						epi(c, ldc, ic, jc+jr, mb, nn)
					}
				}
			}
		}
	}
}

// packATiles packs the mb×kb block of op(A) at (i0, p0) as tiles of mr
// rows (the last one mb mod mr): the tile of rows t.. is r rows at
// dst[t*kb:], r floats per k step (dst[t*kb+p*r+i] = op(A)[i0+t+i][p0+p]).
func packATiles(transA bool, mr, mb, kb int, a []float32, lda, i0, p0 int, dst []float32) {
	for t := 0; t < mb; t += mr {
		r := min(mr, mb-t)
		d := dst[t*kb : (t+r)*kb]
		if transA {
			// Row p of A holds the r values of step p side by side.
			if r == 6 {
				for p := 0; p < kb; p++ {
					o := (p0+p)*lda + i0 + t
					*(*[6]float32)(d[p*6:]) = *(*[6]float32)(a[o : o+6])
				}
				continue
			}
			for p := 0; p < kb; p++ {
				o := (p0+p)*lda + i0 + t
				copy(d[p*r:p*r+r], a[o:o+r])
			}
			continue
		}
		o := (i0+t)*lda + p0
		p := 0
		switch r {
		case 6:
			p = packA6(kb, a[o:], lda, d)
		case 14:
			p = packA14(kb, a[o:], lda, d)
		}
		if p == kb {
			continue
		}
		// Row by row: each row of A read in one sequential pass.
		for i := 0; i < r; i++ {
			row := a[o+i*lda+p : o+i*lda+kb]
			dd := d[p*r+i : (kb-1)*r+i+1]
			for q, v := range row {
				dd[q*r] = v
			}
		}
	}
}

// transposeA sets dst[r*kb+p] = A[p0+p][i0+r] for r < mm, p < kb: the
// rows i0.. of op(A) when A is stored transposed.
func transposeA(mm, kb int, a []float32, lda, p0, i0 int, dst []float32) {
	for p := 0; p < kb; p++ {
		src := a[(p0+p)*lda+i0 : (p0+p)*lda+i0+mm]
		for r, v := range src {
			dst[r*kb+p] = v
		}
	}
}

// packBBlock copies the kb×nb block of op(B) at (p0, j0) into panels of
// panelN columns: panel q holds columns q*panelN.. as kb rows of panelN
// values at dst[q*panelN*kb:], zero past column nb.
func packBBlock(trans bool, kb, nb int, b []float32, ldb, p0, j0 int, dst []float32) {
	if !trans {
		full := nb / panelN
		if full > 0 {
			packPanels(kb, full, b[p0*ldb+j0:], ldb, dst)
		}
		if jr := full * panelN; jr < nb {
			nn := nb - jr
			pan := dst[jr*kb : jr*kb+panelN*kb]
			for p := 0; p < kb; p++ {
				d := pan[p*panelN : p*panelN+panelN]
				copy(d, b[(p0+p)*ldb+j0+jr:(p0+p)*ldb+j0+jr+nn])
				clear(d[nn:])
			}
		}
		return
	}
	// op(B)[p][j] = B[j][p]: column j of op(B) is row j of B. Eight
	// columns at a time, so that each 32-byte stretch of a panel row is
	// written at once.
	for jr := 0; jr < nb; jr += panelN {
		nn := min(panelN, nb-jr)
		pan := dst[jr*kb : jr*kb+panelN*kb]
		if nn < panelN {
			clear(pan)
		} else if kb8 := packPanelT(kb, b[(j0+jr)*ldb+p0:], ldb, pan); kb8 == kb {
			continue
		} else {
			// The last kb mod 8 rows of the panel.
			for j := 0; j < panelN; j++ {
				src := b[(j0+jr+j)*ldb+p0+kb8 : (j0+jr+j)*ldb+p0+kb]
				for p, v := range src {
					pan[(kb8+p)*panelN+j] = v
				}
			}
			continue
		}
		j := 0
		for ; j+8 <= nn; j += 8 {
			var rows [8][]float32
			for i := range rows {
				o := (j0+jr+j+i)*ldb + p0
				rows[i] = b[o : o+kb]
			}
			r0, r1, r2, r3, r4, r5, r6, r7 := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])], rows[3][:len(rows[0])],
				rows[4][:len(rows[0])], rows[5][:len(rows[0])], rows[6][:len(rows[0])], rows[7][:len(rows[0])]
			for p := range r0 {
				d := (*[8]float32)(pan[p*panelN+j:])
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p], r7[p]
			}
		}
		for ; j < nn; j++ {
			src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kb]
			for p, v := range src {
				pan[p*panelN+j] = v
			}
		}
	}
}

// SgemvPacked reports whether SgemmPacked multiplies a single row (op(A)
// A itself) on a B packed by PackB(false, ...) with what Sgemm gives on
// B as stored and not transposed, bit for bit: the implementation's
// matrix-vector kernels for the two layouts sum in the same order, k
// block by k block (Sgemm sums one row in the blocks of PackB). A
// Dense layer on one row may then take its packed constant (streamed in
// order, and the one SgemmSkip skips on) and still give what the
// trainer that multiplies the unpacked weights gives.
func SgemvPacked() bool { return sgemmDefault.gemvPacked != nil && sgemmDefault.gemv != nil }
