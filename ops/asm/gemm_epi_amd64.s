//go:build !purego

#include "textflag.h"

// The AVX2 product epilogue (Go reference in gemm_epi.go).

// gemmEpiMask<>: eight lanes set, then eight clear. The mask of the first
// t lanes of a vector is the 8 floats at gemmEpiMask<> + 4*(8-t).
DATA gemmEpiMask<>+0(SB)/4, $0xffffffff
DATA gemmEpiMask<>+4(SB)/4, $0xffffffff
DATA gemmEpiMask<>+8(SB)/4, $0xffffffff
DATA gemmEpiMask<>+12(SB)/4, $0xffffffff
DATA gemmEpiMask<>+16(SB)/4, $0xffffffff
DATA gemmEpiMask<>+20(SB)/4, $0xffffffff
DATA gemmEpiMask<>+24(SB)/4, $0xffffffff
DATA gemmEpiMask<>+28(SB)/4, $0xffffffff
DATA gemmEpiMask<>+32(SB)/4, $0x00000000
DATA gemmEpiMask<>+36(SB)/4, $0x00000000
DATA gemmEpiMask<>+40(SB)/4, $0x00000000
DATA gemmEpiMask<>+44(SB)/4, $0x00000000
DATA gemmEpiMask<>+48(SB)/4, $0x00000000
DATA gemmEpiMask<>+52(SB)/4, $0x00000000
DATA gemmEpiMask<>+56(SB)/4, $0x00000000
DATA gemmEpiMask<>+60(SB)/4, $0x00000000
GLOBL gemmEpiMask<>(SB), RODATA|NOPTR, $64

// Y0 = min(hi, max(lo, Y0 + bias) + z): Y13 = lo, Y14 = hi, Y15 = z; the
// value comes second in VMAXPS and VMINPS so that a NaN passes through.
#define GEMM_EPI(bias) \
	VADDPS bias, Y0, Y0 \
	VMAXPS Y0, Y13, Y0  \
	VADDPS Y15, Y0, Y0  \
	VMINPS Y0, Y14, Y0

// func gemmBiasClampAVX2(c *float32, ldc int, rows int, n int, bias *float32, ldb int, lo float32, hi float32, z float32)
TEXT ·gemmBiasClampAVX2(SB), NOSPLIT, $0-60
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), AX
	SHLQ $2, AX
	MOVQ rows+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ bias+32(FP), SI
	MOVQ ldb+40(FP), BX
	SHLQ $2, BX
	VBROADCASTSS lo+48(FP), Y13
	VBROADCASTSS hi+52(FP), Y14
	VBROADCASTSS z+56(FP), Y15
	MOVQ DX, R10
	ANDQ $7, R10
	NEGQ R10
	LEAQ gemmEpiMask<>(SB), R11
	VMOVUPS 32(R11)(R10*4), Y12
	MOVQ DX, R12
	SUBQ $8, R12
	TESTQ CX, CX
	JLE  gepi_done

gepi_row:
	XORQ R10, R10

gepi_vec:
	CMPQ R10, R12
	JGT  gepi_tail
	VMOVUPS (DI)(R10*4), Y0
	GEMM_EPI((SI)(R10*4))
	VMOVUPS Y0, (DI)(R10*4)
	ADDQ $8, R10
	JMP  gepi_vec

gepi_tail:
	// Up to 7 floats left: masked moves when there are 4 or more, else
	// one at a time (masked moves cost more than a few scalar ones).
	MOVQ DX, R13
	SUBQ R10, R13
	JLE  gepi_next
	CMPQ R13, $4
	JLT  gepi_scalar
	VMASKMOVPS (DI)(R10*4), Y12, Y0
	VMASKMOVPS (SI)(R10*4), Y12, Y1
	GEMM_EPI(Y1)
	VMASKMOVPS Y0, Y12, (DI)(R10*4)
	JMP  gepi_next

gepi_scalar:
	VMOVSS (DI)(R10*4), X0
	VADDSS (SI)(R10*4), X0, X0
	VMAXSS X0, X13, X0
	VADDSS X15, X0, X0
	VMINSS X0, X14, X0
	VMOVSS X0, (DI)(R10*4)
	INCQ R10
	CMPQ R10, DX
	JLT  gepi_scalar

gepi_next:
	ADDQ AX, DI
	ADDQ BX, SI
	DECQ CX
	JNE  gepi_row

gepi_done:
	VZEROUPPER
	RET
