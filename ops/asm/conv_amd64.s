//go:build !purego

#include "textflag.h"

// The AVX2 convolution kernels (Go references in conv_epi.go).

// convMask<>: eight lanes set, then eight clear. The mask of the first t
// lanes of a vector is the 8 floats at convMask<> + 4*(8-t).
DATA convMask<>+0(SB)/4, $0xffffffff
DATA convMask<>+4(SB)/4, $0xffffffff
DATA convMask<>+8(SB)/4, $0xffffffff
DATA convMask<>+12(SB)/4, $0xffffffff
DATA convMask<>+16(SB)/4, $0xffffffff
DATA convMask<>+20(SB)/4, $0xffffffff
DATA convMask<>+24(SB)/4, $0xffffffff
DATA convMask<>+28(SB)/4, $0xffffffff
DATA convMask<>+32(SB)/4, $0x00000000
DATA convMask<>+36(SB)/4, $0x00000000
DATA convMask<>+40(SB)/4, $0x00000000
DATA convMask<>+44(SB)/4, $0x00000000
DATA convMask<>+48(SB)/4, $0x00000000
DATA convMask<>+52(SB)/4, $0x00000000
DATA convMask<>+56(SB)/4, $0x00000000
DATA convMask<>+60(SB)/4, $0x00000000
GLOBL convMask<>(SB), RODATA|NOPTR, $64

// Activations of Y0 in place. Clamp: Y13 = lo, Y14 = hi; the source
// operand x comes second so that a NaN passes through. Leaky: Y13 = alpha,
// Y11 = 0, Y1 and Y2 scratch.
#define EPI_CLAMP \
	VMAXPS Y0, Y13, Y0 \
	VMINPS Y0, Y14, Y0

#define EPI_LEAKY \
	VCMPPS     $1, Y11, Y0, Y1 \
	VMULPS     Y13, Y0, Y2     \
	VBLENDVPS  Y1, Y2, Y0, Y0

// func convBiasActAVX2(src *float32, lds int, dst *float32, ldd int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)
TEXT ·convBiasActAVX2(SB), NOSPLIT, $0-80
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	SHLQ $2, AX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), BX
	SHLQ $2, BX
	MOVQ rows+32(FP), CX
	MOVQ n+40(FP), DX
	MOVQ bias+48(FP), R8
	MOVQ mode+72(FP), R9
	VBROADCASTSS lo+56(FP), Y13
	VBROADCASTSS hi+60(FP), Y14
	TESTQ R9, R9
	JEQ  epi_masks
	VBROADCASTSS alpha+64(FP), Y13

epi_masks:
	MOVQ DX, R10
	ANDQ $7, R10
	NEGQ R10
	LEAQ convMask<>(SB), R11
	VMOVUPS 32(R11)(R10*4), Y12
	VXORPS Y11, Y11, Y11
	MOVQ DX, R12
	SUBQ $8, R12
	TESTQ CX, CX
	JLE  epi_done

epi_row:
	VXORPS Y10, Y10, Y10
	TESTQ R8, R8
	JEQ  epi_rowgo
	VBROADCASTSS (R8), Y10
	ADDQ $4, R8

epi_rowgo:
	XORQ R10, R10
	TESTQ R9, R9
	JNE  epi_leaky

epi_clamp:
	CMPQ R10, R12
	JGT  epi_clamptail
	VADDPS (SI)(R10*4), Y10, Y0
	EPI_CLAMP
	VMOVUPS Y0, (DI)(R10*4)
	ADDQ $8, R10
	JMP  epi_clamp

epi_clamptail:
	CMPQ R10, DX
	JGE  epi_next
	VMASKMOVPS (SI)(R10*4), Y12, Y0
	VADDPS Y0, Y10, Y0
	EPI_CLAMP
	VMASKMOVPS Y0, Y12, (DI)(R10*4)
	JMP  epi_next

epi_leaky:
	CMPQ R10, R12
	JGT  epi_leakytail
	VADDPS (SI)(R10*4), Y10, Y0
	EPI_LEAKY
	VMOVUPS Y0, (DI)(R10*4)
	ADDQ $8, R10
	JMP  epi_leaky

epi_leakytail:
	CMPQ R10, DX
	JGE  epi_next
	VMASKMOVPS (SI)(R10*4), Y12, Y0
	VADDPS Y0, Y10, Y0
	EPI_LEAKY
	VMASKMOVPS Y0, Y12, (DI)(R10*4)

epi_next:
	ADDQ AX, SI
	ADDQ BX, DI
	DECQ CX
	JNE  epi_row

epi_done:
	VZEROUPPER
	RET

// func convCopyRunsAVX2(dst *float32, kb int, np int, src *float32, rowOff *int32, runs *int32, panelStart *int32)
TEXT ·convCopyRunsAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ np+16(FP), DX
	MOVQ panelStart+48(FP), R10

runs_panel:
	// R11, R12 = the first and past the last run of the panel.
	MOVQ    runs+40(FP), R9
	MOVLQSX (R10), R11
	LEAQ    (R11)(R11*2), R11
	LEAQ    (R9)(R11*4), R11
	MOVLQSX 4(R10), R12
	LEAQ    (R12)(R12*2), R12
	LEAQ    (R9)(R12*4), R12
	MOVQ    rowOff+32(FP), R13
	MOVQ    kb+8(FP), R14

runs_row:
	MOVLQSX (R13), AX
	MOVQ    src+24(FP), BX
	LEAQ    (BX)(AX*4), BX
	MOVQ    R11, R15

runs_run:
	// A run of one or two groups copies them; a longer one copies 32
	// floats (a run is at most a panel row): what lies past its end the
	// next runs, rows and panels overwrite, and the copy needs no loop.
	CMPQ    R15, R12
	JGE     runs_rowdone
	MOVLQSX (R15), AX
	LEAQ    (BX)(AX*4), AX
	MOVLQSX 4(R15), R8
	LEAQ    (DI)(R8*4), R8
	VMOVUPS (AX), Y0
	MOVLQSX 8(R15), CX
	CMPQ    CX, $2
	JGT     runs_four
	JEQ     runs_two
	VMOVUPS Y0, (R8)
	ADDQ    $12, R15
	JMP     runs_run

runs_two:
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (R8)
	VMOVUPS Y1, 32(R8)
	ADDQ    $12, R15
	JMP     runs_run

runs_four:
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VMOVUPS Y0, (R8)
	VMOVUPS Y1, 32(R8)
	VMOVUPS Y2, 64(R8)
	VMOVUPS Y3, 96(R8)
	ADDQ    $12, R15
	JMP     runs_run

runs_rowdone:
	ADDQ $128, DI
	ADDQ $4, R13
	DECQ R14
	JNE  runs_row
	ADDQ $4, R10
	DECQ DX
	JNE  runs_panel
	VZEROUPPER
	RET

// NANMAX(a, b, d, t): d = max(a, b), NaN when either is NaN (d != a).
#define NANMAX(a, b, d, t) \
	VMAXPS    b, a, d    \
	VCMPPS    $3, a, a, t \
	VBLENDVPS t, a, d, d

// func poolMaxRowsAVX2(dst *float32, src *float32, n int)
TEXT ·poolMaxRowsAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	SUBQ $8, DX

pmr_loop:
	CMPQ AX, DX
	JGT  pmr_tail
	VMOVUPS (DI)(AX*4), Y0
	VMOVUPS (SI)(AX*4), Y1
	NANMAX(Y0, Y1, Y2, Y3)
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP  pmr_loop

pmr_tail:
	CMPQ AX, CX
	JGE  pmr_done
	MOVQ CX, R8
	SUBQ AX, R8
	NEGQ R8
	LEAQ convMask<>(SB), R9
	VMOVUPS 32(R9)(R8*4), Y4
	VMASKMOVPS (DI)(AX*4), Y4, Y0
	VMASKMOVPS (SI)(AX*4), Y4, Y1
	NANMAX(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y2, Y4, (DI)(AX*4)

pmr_done:
	VZEROUPPER
	RET

// func poolMaxColsAVX2(dst *float32, n int, src *float32, k int, s int)
// dst[j] = max(src[j*s], ..., src[j*s+k-1]) for k in {2, 3}, s in {1, 2};
// src is read up to 24 floats past the last window.
TEXT ·poolMaxColsAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ src+16(FP), SI
	MOVQ k+24(FP), R10
	MOVQ s+32(FP), R11
	// Y15 = mask of the n%8 tail.
	MOVQ CX, R8
	ANDQ $7, R8
	NEGQ R8
	LEAQ convMask<>(SB), R9
	VMOVUPS 32(R9)(R8*4), Y15
	XORQ AX, AX
	MOVQ CX, DX
	SUBQ $8, DX
	CMPQ R11, $1
	JNE  pmc_s2

pmc_s1:
	CMPQ AX, CX
	JGE  pmc_done
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 4(SI)(AX*4), Y1
	NANMAX(Y0, Y1, Y2, Y3)
	CMPQ R10, $3
	JNE  pmc_s1store
	VMOVUPS 8(SI)(AX*4), Y1
	NANMAX(Y2, Y1, Y0, Y3)
	VMOVAPS Y0, Y2

pmc_s1store:
	CMPQ AX, DX
	JGT  pmc_s1tail
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP  pmc_s1

pmc_s1tail:
	VMASKMOVPS Y2, Y15, (DI)(AX*4)
	JMP pmc_done

pmc_s2:
	CMPQ AX, CX
	JGE  pmc_done
	// Even and odd elements, lanes in the order 0 1 4 5 2 3 6 7.
	VMOVUPS (SI)(AX*8), Y4
	VSHUFPS $0x88, 32(SI)(AX*8), Y4, Y0
	VSHUFPS $0xDD, 32(SI)(AX*8), Y4, Y1
	NANMAX(Y0, Y1, Y2, Y3)
	CMPQ R10, $3
	JNE  pmc_s2store
	VMOVUPS 8(SI)(AX*8), Y4
	VSHUFPS $0x88, 40(SI)(AX*8), Y4, Y1
	NANMAX(Y2, Y1, Y0, Y3)
	VMOVAPS Y0, Y2

pmc_s2store:
	VPERMPD $0xD8, Y2, Y2
	CMPQ AX, DX
	JGT  pmc_s2tail
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP  pmc_s2

pmc_s2tail:
	VMASKMOVPS Y2, Y15, (DI)(AX*4)

pmc_done:
	VZEROUPPER
	RET

// func poolMaxPlaneAVX2(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int)
// dst[y*ldd+x] = max over i < kh, j < kw of src[(y*sh+i)*lds + x*sw+j]
// for y < ny, x < nx; kw in {2, 3}, sw in {1, 2}. Rows but the last
// maskRows may spill up to 7 floats past nx (the caller overwrites them);
// src is read up to 24 floats past each window row.
TEXT ·poolMaxPlaneAVX2(SB), NOSPLIT, $0-88
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R9
	SHLQ $2, R9
	MOVQ nx+16(FP), CX
	MOVQ ny+24(FP), DX
	MOVQ src+32(FP), SI
	MOVQ lds+40(FP), R10
	SHLQ $2, R10
	MOVQ sh+64(FP), R11
	IMULQ R10, R11
	MOVQ kh+48(FP), R12
	MOVQ CX, AX
	ANDQ $7, AX
	NEGQ AX
	LEAQ convMask<>(SB), BX
	VMOVUPS 32(BX)(AX*4), Y15
	MOVQ CX, BX
	SUBQ $8, BX
	TESTQ DX, DX
	JLE  pmp_done
	TESTQ CX, CX
	JLE  pmp_done
	MOVQ kw+56(FP), AX
	MOVQ sw+72(FP), R13
	CMPQ R13, $1
	JNE  pmp_sw2
	CMPQ AX, $2
	JEQ  pmp_k2s1
	JMP  pmp_k3s1

pmp_sw2:
	CMPQ AX, $2
	JEQ  pmp_k2s2
	JMP  pmp_k3s2

pmp_k2s1:
	XORQ R8, R8

pmp_k2s1_col:
	CMPQ R8, CX
	JGE  pmp_k2s1_rowdone
	VMOVUPS (SI)(R8*4), Y6
	VMOVUPS 4(SI)(R8*4), Y7
	NANMAX(Y6, Y7, Y0, Y5)
	LEAQ (SI)(R10*1), R13
	MOVQ R12, R14
	DECQ R14
	JEQ  pmp_k2s1_kdone

pmp_k2s1_krow:
	VMOVUPS (R13)(R8*4), Y6
	VMOVUPS 4(R13)(R8*4), Y7
	NANMAX(Y6, Y7, Y1, Y5)
	NANMAX(Y0, Y1, Y2, Y3)
	VMOVAPS Y2, Y0
	ADDQ R10, R13
	DECQ R14
	JNE  pmp_k2s1_krow

pmp_k2s1_kdone:
	CMPQ R8, BX
	JGT  pmp_k2s1_tail
	VMOVUPS Y0, (DI)(R8*4)
	ADDQ $8, R8
	JMP  pmp_k2s1_col

pmp_k2s1_tail:
	CMPQ DX, maskRows+80(FP)
	JLE  pmp_k2s1_masked
	VMOVUPS Y0, (DI)(R8*4)
	JMP  pmp_k2s1_rowdone

pmp_k2s1_masked:
	VMASKMOVPS Y0, Y15, (DI)(R8*4)

pmp_k2s1_rowdone:
	ADDQ R11, SI
	ADDQ R9, DI
	DECQ DX
	JNE  pmp_k2s1
	JMP  pmp_done

pmp_k3s1:
	XORQ R8, R8

pmp_k3s1_col:
	CMPQ R8, CX
	JGE  pmp_k3s1_rowdone
	VMOVUPS (SI)(R8*4), Y6
	VMOVUPS 4(SI)(R8*4), Y7
	NANMAX(Y6, Y7, Y8, Y5)
	VMOVUPS 8(SI)(R8*4), Y6
	NANMAX(Y8, Y6, Y0, Y5)
	LEAQ (SI)(R10*1), R13
	MOVQ R12, R14
	DECQ R14
	JEQ  pmp_k3s1_kdone

pmp_k3s1_krow:
	VMOVUPS (R13)(R8*4), Y6
	VMOVUPS 4(R13)(R8*4), Y7
	NANMAX(Y6, Y7, Y8, Y5)
	VMOVUPS 8(R13)(R8*4), Y6
	NANMAX(Y8, Y6, Y1, Y5)
	NANMAX(Y0, Y1, Y2, Y3)
	VMOVAPS Y2, Y0
	ADDQ R10, R13
	DECQ R14
	JNE  pmp_k3s1_krow

pmp_k3s1_kdone:
	CMPQ R8, BX
	JGT  pmp_k3s1_tail
	VMOVUPS Y0, (DI)(R8*4)
	ADDQ $8, R8
	JMP  pmp_k3s1_col

pmp_k3s1_tail:
	CMPQ DX, maskRows+80(FP)
	JLE  pmp_k3s1_masked
	VMOVUPS Y0, (DI)(R8*4)
	JMP  pmp_k3s1_rowdone

pmp_k3s1_masked:
	VMASKMOVPS Y0, Y15, (DI)(R8*4)

pmp_k3s1_rowdone:
	ADDQ R11, SI
	ADDQ R9, DI
	DECQ DX
	JNE  pmp_k3s1
	JMP  pmp_done

pmp_k2s2:
	XORQ R8, R8

pmp_k2s2_col:
	CMPQ R8, CX
	JGE  pmp_k2s2_rowdone
	VMOVUPS (SI)(R8*8), Y5
	VSHUFPS $0x88, 32(SI)(R8*8), Y5, Y6
	VSHUFPS $0xDD, 32(SI)(R8*8), Y5, Y7
	NANMAX(Y6, Y7, Y0, Y5)
	LEAQ (SI)(R10*1), R13
	MOVQ R12, R14
	DECQ R14
	JEQ  pmp_k2s2_kdone

pmp_k2s2_krow:
	VMOVUPS (R13)(R8*8), Y5
	VSHUFPS $0x88, 32(R13)(R8*8), Y5, Y6
	VSHUFPS $0xDD, 32(R13)(R8*8), Y5, Y7
	NANMAX(Y6, Y7, Y1, Y5)
	NANMAX(Y0, Y1, Y2, Y3)
	VMOVAPS Y2, Y0
	ADDQ R10, R13
	DECQ R14
	JNE  pmp_k2s2_krow

pmp_k2s2_kdone:
	VPERMPD $0xD8, Y0, Y0
	CMPQ R8, BX
	JGT  pmp_k2s2_tail
	VMOVUPS Y0, (DI)(R8*4)
	ADDQ $8, R8
	JMP  pmp_k2s2_col

pmp_k2s2_tail:
	CMPQ DX, maskRows+80(FP)
	JLE  pmp_k2s2_masked
	VMOVUPS Y0, (DI)(R8*4)
	JMP  pmp_k2s2_rowdone

pmp_k2s2_masked:
	VMASKMOVPS Y0, Y15, (DI)(R8*4)

pmp_k2s2_rowdone:
	ADDQ R11, SI
	ADDQ R9, DI
	DECQ DX
	JNE  pmp_k2s2
	JMP  pmp_done

pmp_k3s2:
	XORQ R8, R8

pmp_k3s2_col:
	CMPQ R8, CX
	JGE  pmp_k3s2_rowdone
	VMOVUPS (SI)(R8*8), Y5
	VSHUFPS $0x88, 32(SI)(R8*8), Y5, Y6
	VSHUFPS $0xDD, 32(SI)(R8*8), Y5, Y7
	NANMAX(Y6, Y7, Y8, Y5)
	VMOVUPS 8(SI)(R8*8), Y5
	VSHUFPS $0x88, 40(SI)(R8*8), Y5, Y6
	NANMAX(Y8, Y6, Y0, Y5)
	LEAQ (SI)(R10*1), R13
	MOVQ R12, R14
	DECQ R14
	JEQ  pmp_k3s2_kdone

pmp_k3s2_krow:
	VMOVUPS (R13)(R8*8), Y5
	VSHUFPS $0x88, 32(R13)(R8*8), Y5, Y6
	VSHUFPS $0xDD, 32(R13)(R8*8), Y5, Y7
	NANMAX(Y6, Y7, Y8, Y5)
	VMOVUPS 8(R13)(R8*8), Y5
	VSHUFPS $0x88, 40(R13)(R8*8), Y5, Y6
	NANMAX(Y8, Y6, Y1, Y5)
	NANMAX(Y0, Y1, Y2, Y3)
	VMOVAPS Y2, Y0
	ADDQ R10, R13
	DECQ R14
	JNE  pmp_k3s2_krow

pmp_k3s2_kdone:
	VPERMPD $0xD8, Y0, Y0
	CMPQ R8, BX
	JGT  pmp_k3s2_tail
	VMOVUPS Y0, (DI)(R8*4)
	ADDQ $8, R8
	JMP  pmp_k3s2_col

pmp_k3s2_tail:
	CMPQ DX, maskRows+80(FP)
	JLE  pmp_k3s2_masked
	VMOVUPS Y0, (DI)(R8*4)
	JMP  pmp_k3s2_rowdone

pmp_k3s2_masked:
	VMASKMOVPS Y0, Y15, (DI)(R8*4)

pmp_k3s2_rowdone:
	ADDQ R11, SI
	ADDQ R9, DI
	DECQ DX
	JNE  pmp_k3s2
	JMP  pmp_done

pmp_done:
	VZEROUPPER
	RET

// EPI_SUM(op): Y0 = act(src + bias + z) for 8 lanes at column R10 (src
// SI, z R13, bias Y10), stored to DI; op is EPI_CLAMP or EPI_LEAKY. The
// sum is (src + bias) + z, the order of a Conv with bias and then an Add.
#define EPI_SUM(op) \
	VADDPS  (SI)(R10*4), Y10, Y0 \
	VADDPS  (R13)(R10*4), Y0, Y0 \
	op                           \
	VMOVUPS Y0, (DI)(R10*4)

// EPI_SUMTAIL(op): EPI_SUM for the lanes of mask Y12.
#define EPI_SUMTAIL(op) \
	VMASKMOVPS (SI)(R10*4), Y12, Y0  \
	VADDPS     Y0, Y10, Y0           \
	VMASKMOVPS (R13)(R10*4), Y12, Y3 \
	VADDPS     Y3, Y0, Y0            \
	op                               \
	VMASKMOVPS Y0, Y12, (DI)(R10*4)

// func convBiasSumActAVX2(src *float32, lds int, dst *float32, ldd int, z *float32, ldz int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)
TEXT ·convBiasSumActAVX2(SB), NOSPLIT, $0-96
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	SHLQ $2, AX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), BX
	SHLQ $2, BX
	MOVQ z+32(FP), R13
	MOVQ ldz+40(FP), R14
	SHLQ $2, R14
	MOVQ rows+48(FP), CX
	MOVQ n+56(FP), DX
	MOVQ bias+64(FP), R8
	MOVQ mode+88(FP), R9
	VBROADCASTSS lo+72(FP), Y13
	VBROADCASTSS hi+76(FP), Y14
	TESTQ R9, R9
	JEQ  sum_masks
	VBROADCASTSS alpha+80(FP), Y13

sum_masks:
	MOVQ DX, R10
	ANDQ $7, R10
	NEGQ R10
	LEAQ convMask<>(SB), R11
	VMOVUPS 32(R11)(R10*4), Y12
	VXORPS Y11, Y11, Y11
	MOVQ DX, R12
	SUBQ $8, R12
	TESTQ CX, CX
	JLE  sum_done

sum_row:
	VXORPS Y10, Y10, Y10
	TESTQ R8, R8
	JEQ  sum_rowgo
	VBROADCASTSS (R8), Y10
	ADDQ $4, R8

sum_rowgo:
	XORQ R10, R10
	TESTQ R9, R9
	JNE  sum_leaky

sum_clamp:
	CMPQ R10, R12
	JGT  sum_clamptail
	EPI_SUM(EPI_CLAMP)
	ADDQ $8, R10
	JMP  sum_clamp

sum_clamptail:
	CMPQ R10, DX
	JGE  sum_next
	EPI_SUMTAIL(EPI_CLAMP)
	JMP  sum_next

sum_leaky:
	CMPQ R10, R12
	JGT  sum_leakytail
	EPI_SUM(EPI_LEAKY)
	ADDQ $8, R10
	JMP  sum_leaky

sum_leakytail:
	CMPQ R10, DX
	JGE  sum_next
	EPI_SUMTAIL(EPI_LEAKY)

sum_next:
	ADDQ AX, SI
	ADDQ BX, DI
	ADDQ R14, R13
	DECQ CX
	JNE  sum_row

sum_done:
	VZEROUPPER
	RET
