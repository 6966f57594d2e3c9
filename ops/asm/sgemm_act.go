package asm

import "sync"

// zeroBias is the bias of a convolution without one, for the fused tiles
// (never written).
var zeroBias [maxMR]float32

// actFuseMinN is the number of columns from which sgemmActBlocked fuses
// the epilogue into its tiles.
const actFuseMinN = 2 * nc

// actAPool holds the buffers of sgemmActBlocked's packed A.
var actAPool = sync.Pool{New: func() any { return new([]float32) }}

// sgemmActBlocked is the blocked loop of SgemmActSum (k > 0, extents
// checked, act not nil). It is the loop of SgemmActSum, with the same
// tiles and k blocks (so the same results bit for bit), except for a
// product of one k block (k ≤ actKC) and at least actFuseMinN columns
// whose activation is a clamp and whose z, if any, has C's stride, when
// the implementation has fused tiles (im.tilePActN, im.tilePAct): A is
// packed once into the tiles of its row chunks, and the tiles store C
// with bias, z and activation applied, several tiles a call, instead of a
// pass over C afterwards. For such shallow products that pass and the
// call per tile cost a quarter to a half of the time (measured on Zen 3);
// deeper or narrower products measured no gain from it, or a loss.
func sgemmActBlocked(im *sgemmImpl, m, n, k int, a []float32, lda int, pack PackFunc, bias, z []float32, ldz int, act *ConvAct, c []float32, ldc int) {
	bp := actBufPool.Get().(*[]float32)
	defer actBufPool.Put(bp)
	buf := *bp
	kcb := actKBlock(k)
	mr := im.mr
	fuse := im.tilePActN != nil && im.tilePAct != nil && im.tileP != nil &&
		(z == nil || ldz == ldc) && !act.Leaky && k <= kcb && n >= actFuseMinN
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
			bet := float32(0)
			if pc > 0 {
				bet = 1
			}
			last := pc+kb >= k
			// Rows in chunks whose A block stays in L2; within a chunk
			// each B panel stays in L1 while the row tiles pass over it.
			for i0 := 0; i0 < m; {
				i1 := chunkEnd(i0, m, mr)
				for jr := 0; jr < nb; jr += panelN {
					nn := min(panelN, nb-jr)
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
