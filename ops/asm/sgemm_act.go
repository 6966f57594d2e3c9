package asm

import "sync"

// zeroBias is the bias of a convolution without one, for the fused tiles
// (never written).
var zeroBias [maxMR]float32

// actFuseMinN is the number of columns from which sgemmActBlocked fuses
// the epilogue into its tiles; products at most actFuseShallowK deep fuse
// it from actFuseShallowMinN columns (measured on Zen 3 with the 14×14
// pointwise layers of MobileNetV2, 384x196x64 and 576x196x96: 2-5%
// faster fused, where products of 256 steps or 49 columns were 1-10%
// slower).
const (
	actFuseMinN        = 2 * nc
	actFuseShallowMinN = 4 * panelN
	actFuseShallowK    = 128
)

// actAPool holds the buffers of sgemmActBlocked's packed A.
var actAPool = sync.Pool{New: func() any { return new([]float32) }}

// sgemmActBlocked is the blocked loop of SgemmActSum (k > 0, extents
// checked, act not nil). It is the loop of SgemmActSum, with the same
// tiles and k blocks (so the same results bit for bit), except for a
// product of one k block (k ≤ actKC) and at least actFuseMinN columns
// (actFuseShallowMinN when k ≤ actFuseShallowK) whose activation is a
// clamp and whose z, if any, has C's stride, when the implementation has
// fused tiles (im.tilePActN, im.tilePAct): A is
// packed once into the tiles of its row chunks, and the tiles store C
// with bias, z and activation applied, several tiles a call, instead of a
// pass over C afterwards. For such shallow products that pass and the
// call per tile cost a quarter to a half of the time (measured on Zen 3);
// deeper or narrower products measured no gain from it, or a loss.
// The last columns of a column block past a multiple of 16, when there
// are few of them (dotCols), are dot products of A's rows in place with
// those columns of B (im.dots, all of them in one pass over A, or
// im.gemv column by column), then get the epilogue with the block.
func sgemmActBlocked(im *sgemmImpl, m, n, k int, a []float32, lda int, pack PackFunc, bias, z []float32, ldz int, act *ConvAct, c []float32, ldc int) {
	bp := actBufPool.Get().(*[]float32)
	defer actBufPool.Put(bp)
	buf := *bp
	var dtmp, dcol []float32 // a column of C for the dot products, the columns of B they take
	if dotCols(im, min(n, nc)) > 0 || dotCols(im, n%nc) > 0 {
		ds := actDotPool.Get().(*actDotBufs)
		defer actDotPool.Put(ds)
		dtmp, dcol = ds.c[:], ds.b[:]
	}
	kcb := actKBlock(k)
	mr := im.mr
	fuse := im.tilePActN != nil && im.tilePAct != nil && im.tileP != nil &&
		(z == nil || ldz == ldc) && !act.Leaky && k <= kcb &&
		(n >= actFuseMinN || n >= actFuseShallowMinN && k <= actFuseShallowK)
	var ap []float32 // A packed when fused: the tile of row ic at ap[ic*k:]
	if fuse {
		abuf := actAPool.Get().(*[]float32)
		defer actAPool.Put(abuf)
		if cap(*abuf) < m*k {
			*abuf = make([]float32, m*k)
		}
		ap = (*abuf)[:m*k]
		for i0 := 0; i0 < m; {
			i1 := chunkEnd(i0, m, mr)
			for ic := i0; ic < i1; {
				mm := tileRows(i1-ic, mr)
				packATiles(false, mm, mm, k, a, lda, ic, 0, ap[ic*k:(ic+mm)*k])
				ic += mm
			}
			i0 = i1
		}
	}
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kcb {
			kb := min(kcb, k-pc)
			pack(pc, kb, jc, nb, buf[:roundUp(nb, panelN)*kb+CopyRunsSlack])
			// The last few columns of the block (past a multiple of 16)
			// as dot products of A's rows with B's columns, gathered
			// here, instead of a tile pass that would waste most of its
			// work on them.
			nd := dotCols(im, nb)
			if nd > 0 {
				jd := nb - nd
				pan := buf[jd/panelN*panelN*kb:]
				for q := 0; q < nd; q++ {
					col := dcol[q*dotsLDB : q*dotsLDB+kb]
					o := jd%panelN + q
					for p := range col {
						col[p] = pan[p*panelN+o]
					}
				}
			}
			bet := float32(0)
			if pc > 0 {
				bet = 1
			}
			last := pc+kb >= k
			// Rows in chunks whose A block stays in L2; within a chunk
			// each B panel stays in L1 while the row tiles pass over it.
			for i0 := 0; i0 < m; {
				i1 := chunkEnd(i0, m, mr)
				for jr := 0; jr < nb-nd; jr += panelN {
					nn := min(panelN, nb-nd-jr)
					pan := buf[jr*kb:]
					if fuse && nn%16 == 0 {
						// The full tiles in one call, then the rest.
						ic, nt := i0, 0
						for ic < i1 && tileRows(i1-ic, mr) == mr {
							nt++
							ic += mr
						}
						if nt > 0 {
							i := ic - nt*mr
							bi, bstep := zeroBias[:mr], 0
							if bias != nil {
								bi, bstep = bias[i:ic], 1
							}
							im.tilePActN(k, ap[i*k:ic*k], pan, c[i*ldc+jc+jr:], ldc, bi, bstep, zAt(z, ldz, i, jc+jr), act.Lo, act.Hi, nn, nt)
						}
						for ic < i1 {
							mm := tileRows(i1-ic, mr)
							bi := zeroBias[:mm]
							if bias != nil {
								bi = bias[ic : ic+mm]
							}
							im.tilePAct(k, ap[ic*k:(ic+mm)*k], pan, c[ic*ldc+jc+jr:], ldc, bi, zAt(z, ldz, ic, jc+jr), act.Lo, act.Hi, 0, mm, nn)
							ic += mm
						}
						continue
					}
					for ic := i0; ic < i1; {
						mm := tileRows(i1-ic, mr)
						ct := c[ic*ldc+jc+jr:]
						if fuse {
							im.tileP(k, ap[ic*k:(ic+mm)*k], pan, ct, ldc, 1, 0, mm, nn)
						} else {
							im.tile(kb, a[ic*lda+pc:], lda, pan, ct, ldc, 1, bet, mm, nn)
						}
						ic += mm
					}
					if fuse {
						// A last panel of nn mod 16 columns.
						var bi []float32
						if bias != nil {
							bi = bias[i0:i1]
						}
						ct := c[i0*ldc+jc+jr:]
						if z != nil {
							biasSumAct(i1-i0, nn, ct, ldc, bi, z[i0*ldz+jc+jr:], ldz, act, ct, ldc)
						} else {
							biasAct(i1-i0, nn, ct, ldc, bi, act, ct, ldc)
						}
					}
				}
				if nd > 0 {
					jd := jc + nb - nd
					rows := i1 - i0
					if im.dots != nil && nd >= 2 {
						im.dots(kb, a[i0*lda+pc:], lda, dcol, c[i0*ldc+jd:], ldc, bet, rows, nd)
					} else {
						t := dtmp[:rows]
						for q := 0; q < nd; q++ {
							ct := c[i0*ldc+jd+q:]
							if bet != 0 {
								for i := range t {
									t[i] = ct[i*ldc]
								}
							}
							im.gemv(true, rows, kb, 1, dcol[q*dotsLDB:q*dotsLDB+kb], a[i0*lda+pc:], lda, bet, t)
							for i, v := range t {
								ct[i*ldc] = v
							}
						}
					}
					if fuse {
						var bi []float32
						if bias != nil {
							bi = bias[i0:i1]
						}
						ct := c[i0*ldc+jd:]
						if z != nil {
							biasSumAct(rows, nd, ct, ldc, bi, z[i0*ldz+jd:], ldz, act, ct, ldc)
						} else {
							biasAct(rows, nd, ct, ldc, bi, act, ct, ldc)
						}
					}
				}
				if last && !fuse {
					// The block of C just stored is still in cache.
					var bi []float32
					if bias != nil {
						bi = bias[i0:i1]
					}
					ct := c[i0*ldc+jc:]
					if z != nil {
						biasSumAct(i1-i0, nb, ct, ldc, bi, z[i0*ldz+jc:], ldz, act, ct, ldc)
					} else {
						biasAct(i1-i0, nb, ct, ldc, bi, act, ct, ldc)
					}
				}
				i0 = i1
			}
		}
	}
}

// zAt returns z from row i, column j (nil when z is).
func zAt(z []float32, ldz, i, j int) []float32 {
	if z == nil {
		return nil
	}
	return z[i*ldz+j:]
}

// actDotBufs are the buffers of sgemmActBlocked's dot products.
type actDotBufs struct {
	c [actMC + maxMR]float32
	b [dotColsMax * dotsLDB]float32
}

var actDotPool = sync.Pool{New: func() any { return new(actDotBufs) }}

// dotColsMax is the most columns past a multiple of 16 that
// sgemmActBlocked computes as dot products (see dotCols).
const dotColsMax = 4

// dotsLDB is the distance in floats between the columns of B that
// sgemmActBlocked gathers for its dot products (the dots kernels are
// generated for it).
const dotsLDB = actKC

// dotCols returns how many of the last columns of a block of nb columns
// sgemmActBlocked computes as dot products of A's rows with B's columns:
// those past a multiple of 16 when there are at most dotColsMax of them
// and the implementation has a matrix-vector kernel. A tile pass over
// them would run 8 or 16 columns (measured on Zen 3: the 8-column pass
// of the AVX2 tile takes two thirds of the time of a 16-column one),
// most of them wasted, while a dot product reads A's rows in place at
// full width; for products of 49 columns (7×7 convolutions) that pass
// was a sixth of the time.
func dotCols(im *sgemmImpl, nb int) int {
	if im.gemv == nil {
		return 0
	}
	if r := nb % 16; r <= dotColsMax {
		return r
	}
	return 0
}
