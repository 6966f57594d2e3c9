package ops

// Winograd F(2×2, 3×3) convolution for 3×3, stride-1, undilated 2-D
// convolutions with enough channels: each 4×4 input tile and each 3×3
// filter are transformed so that a 2×2 output tile costs 16 multiplies per
// channel pair instead of 36, and the 16 transformed products of all
// channel pairs are 16 GEMMs.
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//	Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 -1 -1]

// winogradMinChannels is the smallest per-group channel count (in and out)
// for which the transforms pay for themselves.
const winogradMinChannels = 8

// winograd reports whether p can use the Winograd path.
func (p *convPlan) winograd() bool {
	g := p.g
	return len(g.k) == 2 && g.k[0] == 3 && g.k[1] == 3 &&
		g.s[0] == 1 && g.s[1] == 1 && g.d[0] == 1 && g.d[1] == 1 &&
		p.c/p.group >= winogradMinChannels && p.m/p.group >= winogradMinChannels &&
		g.out[0] > 0 && g.out[1] > 0
}

// winogradFilter transforms W (M×C/group×3×3) into U laid out as
// [group][16][M/group][C/group].
func winogradFilter[T Float](w []T, m, cg, group int) []T {
	mg := m / group
	u := make([]T, 16*m*cg)
	var t [4][3]T // G g
	for oc := 0; oc < m; oc++ {
		gi, mi := oc/mg, oc%mg
		for c := 0; c < cg; c++ {
			g := w[(oc*cg+c)*9 : (oc*cg+c)*9+9]
			for j := 0; j < 3; j++ {
				g0, g1, g2 := g[j], g[3+j], g[6+j]
				t[0][j] = g0
				t[1][j] = (g0 + g1 + g2) / 2
				t[2][j] = (g0 - g1 + g2) / 2
				t[3][j] = g2
			}
			for i := 0; i < 4; i++ {
				g0, g1, g2 := t[i][0], t[i][1], t[i][2]
				v := [4]T{g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2}
				for j := 0; j < 4; j++ {
					u[((gi*16+i*4+j)*mg+mi)*cg+c] = v[j]
				}
			}
		}
	}
	return u
}

// winogradRun computes y = conv(x, w) + bias for a plan that passes
// winograd(); u is winogradFilter(w) (computed here when nil). Tile rows
// are processed in bands so that the transformed tiles stay within
// im2colBudget elements.
func winogradRun[T float32 | float64](p *convPlan, x, w, u, bias, y []T) {
	cg, mg := p.c/p.group, p.m/p.group
	if u == nil {
		u = winogradFilter(w, p.m, cg, p.group)
	}
	h, wd := p.g.in[0], p.g.in[1]
	oh, ow := p.g.out[0], p.g.out[1]
	th, tw := (oh+1)/2, (ow+1)/2
	band := max(1, min(th, im2colBudget/(16*(cg+mg)*tw)))
	vb, mb := getScratch[T](16*cg*band*tw), getScratch[T](16*mg*band*tw)
	defer putScratch(vb)
	defer putScratch(mb)
	for n := 0; n < p.n; n++ {
		for gi := 0; gi < p.group; gi++ {
			xg := x[(n*p.c+gi*cg)*h*wd : (n*p.c+(gi+1)*cg)*h*wd]
			yg := y[(n*p.m+gi*mg)*oh*ow : (n*p.m+(gi+1)*mg)*oh*ow]
			var bg []T
			if bias != nil {
				bg = bias[gi*mg : (gi+1)*mg]
			}
			ug := u[gi*16*mg*cg : (gi+1)*16*mg*cg]
			for ty0 := 0; ty0 < th; ty0 += band {
				ty1 := min(ty0+band, th)
				nt := (ty1 - ty0) * tw
				v, mm := (*vb)[:16*cg*nt], (*mb)[:16*mg*nt]
				winogradInput(p, xg, cg, ty0, ty1, v)
				// 16 GEMMs: M[ξ] = U[ξ] (mg×cg) · V[ξ] (cg×nt).
				for xi := 0; xi < 16; xi++ {
					gemmT(false, false, mg, nt, cg, 1, ug[xi*mg*cg:], cg, v[xi*cg*nt:], nt, 0, mm[xi*mg*nt:], nt)
				}
				winogradOutput(p, mm, mg, ty0, ty1, bg, yg)
			}
		}
	}
}

// winogradInput transforms the 4×4 input tiles of tile rows [ty0, ty1)
// of cg planes: V[ξ][c][t] = (Bᵀ d B)[ξ], zeros standing in for padding.
func winogradInput[T float32 | float64](p *convPlan, xg []T, cg, ty0, ty1 int, v []T) {
	h, wd := p.g.in[0], p.g.in[1]
	ph, pw := p.g.pb[0], p.g.pb[1]
	tw := (p.g.out[1] + 1) / 2
	nt := (ty1 - ty0) * tw
	stride := cg * nt
	for c := 0; c < cg; c++ {
		plane := xg[c*h*wd : (c+1)*h*wd]
		for ty := ty0; ty < ty1; ty++ {
			y0 := ty*2 - ph
			for tx := 0; tx < tw; tx++ {
				x0 := tx*2 - pw
				var d [4][4]T
				if y0 >= 0 && x0 >= 0 && y0+4 <= h && x0+4 <= wd {
					for i := 0; i < 4; i++ {
						r := plane[(y0+i)*wd+x0 : (y0+i)*wd+x0+4]
						d[i] = [4]T{r[0], r[1], r[2], r[3]}
					}
				} else {
					for i := 0; i < 4; i++ {
						yy := y0 + i
						if yy < 0 || yy >= h {
							continue
						}
						for j := 0; j < 4; j++ {
							if xx := x0 + j; xx >= 0 && xx < wd {
								d[i][j] = plane[yy*wd+xx]
							}
						}
					}
				}
				var b [4][4]T // Bᵀ d
				for j := 0; j < 4; j++ {
					b[0][j] = d[0][j] - d[2][j]
					b[1][j] = d[1][j] + d[2][j]
					b[2][j] = d[2][j] - d[1][j]
					b[3][j] = d[1][j] - d[3][j]
				}
				base := c*nt + (ty-ty0)*tw + tx
				for i := 0; i < 4; i++ { // (Bᵀ d) B
					r := b[i]
					v[(i*4+0)*stride+base] = r[0] - r[2]
					v[(i*4+1)*stride+base] = r[1] + r[2]
					v[(i*4+2)*stride+base] = r[2] - r[1]
					v[(i*4+3)*stride+base] = r[1] - r[3]
				}
			}
		}
	}
}

// winogradOutput turns the products of tile rows [ty0, ty1) into output
// tiles: Y = Aᵀ M A plus bias, cropped to the output size.
func winogradOutput[T float32 | float64](p *convPlan, mm []T, mg, ty0, ty1 int, bias, yg []T) {
	oh, ow := p.g.out[0], p.g.out[1]
	tw := (ow + 1) / 2
	nt := (ty1 - ty0) * tw
	stride := mg * nt
	for mi := 0; mi < mg; mi++ {
		var bv T
		if bias != nil {
			bv = bias[mi]
		}
		out := yg[mi*oh*ow : (mi+1)*oh*ow]
		for ty := ty0; ty < ty1; ty++ {
			for tx := 0; tx < tw; tx++ {
				base := mi*nt + (ty-ty0)*tw + tx
				var s [4][4]T
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						s[i][j] = mm[(i*4+j)*stride+base]
					}
				}
				var r [2][4]T // Aᵀ M
				for j := 0; j < 4; j++ {
					r[0][j] = s[0][j] + s[1][j] + s[2][j]
					r[1][j] = s[1][j] - s[2][j] - s[3][j]
				}
				y0, x0 := ty*2, tx*2
				for i := 0; i < 2 && y0+i < oh; i++ {
					row := out[(y0+i)*ow:]
					row[x0] = r[i][0] + r[i][1] + r[i][2] + bv
					if x0+1 < ow {
						row[x0+1] = r[i][1] - r[i][2] - r[i][3] + bv
					}
				}
			}
		}
	}
}
