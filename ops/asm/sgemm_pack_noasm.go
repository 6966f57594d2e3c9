//go:build !amd64 || purego

package asm

// packPanels packs np full panels: dst[(q*kb+p)*panelN+j] =
// src[p*ldb+q*panelN+j] for p < kb, q < np, j < panelN.
func packPanels(kb, np int, src []float32, ldb int, dst []float32) {
	for p := 0; p < kb; p++ {
		for q := 0; q < np; q++ {
			o := (q*kb + p) * panelN
			copy(dst[o:o+panelN], src[p*ldb+q*panelN:p*ldb+q*panelN+panelN])
		}
	}
}

// packPanelT packs nothing without assembly: the caller's loop does all.
func packPanelT(kb int, src []float32, ldb int, dst []float32) int { return 0 }

// packA6 packs nothing without assembly: the caller's loop does all.
func packA6(kb int, a []float32, lda int, dst []float32) int { return 0 }

// packA14 packs nothing without assembly: the caller's loop does all.
func packA14(kb int, a []float32, lda int, dst []float32) int { return 0 }
