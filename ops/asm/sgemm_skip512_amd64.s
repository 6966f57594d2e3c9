//go:build !purego

#include "textflag.h"

// SKIPSTEP512 loads the listed step at entry AX (its byte offset in a
// panel into DX) and broadcasts its value of the row of A at DI into
// Z31.
#define SKIPSTEP512 \
	MOVLQSX      (SI)(AX*4), DX \
	MOVQ         DX, R12 \
	SHRQ         $5, R12 \
	VBROADCASTSS (DI)(R12*1), Z31

// LISTEDARGS loads the arguments of skipRowsAVX512 and skipPairsAVX512
// (one frame layout): the list at SI, A at DI, the starts at R8, the
// four panels at BX, R9, R10 and R14, C at R11, lda and ldc turned into
// bytes in their slots.
#define LISTEDARGS \
	MOVQ offs+0(FP), SI \
	MOVQ a+8(FP), DI \
	MOVQ lda+16(FP), R12 \
	SHLQ $2, R12 \
	MOVQ R12, lda+16(FP) \
	MOVQ ldc+64(FP), R12 \
	SHLQ $2, R12 \
	MOVQ R12, ldc+64(FP) \
	MOVQ starts+24(FP), R8 \
	MOVQ b+32(FP), BX \
	MOVQ ps+40(FP), R9 \
	LEAQ (BX)(R9*2), R10 \
	LEAQ (R10)(R9*1), R14 \
	ADDQ BX, R9 \
	MOVQ c+56(FP), R11

// func skipRowsAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)
//
// skipRowsAVX2 (sgemm_skip_amd64.s) with 512-bit vectors, for three or
// four panels (np): for each row i < 4 and panel q < np,
// C[i][32q+j] = alpha*Σe a[i*lda+p]*B[q][32p+j] + beta*C[i][32q+j],
// p = offs[e]/128 for e from starts[i] to starts[i+1] in order, C
// unread when beta is ±0; panel q starts at b + q*ps bytes. Each
// element is computed as there, so bit for bit as the AVX2 kernel: one
// fused multiply-add per listed step in order from zero, a product by
// alpha unless alpha is 1, then beta*C in one fused multiply-add unless
// beta is ±0. Accumulators: panel q in Z(2q), Z(2q+1).
TEXT ·skipRowsAVX512(SB), NOSPLIT, $0-80
	LISTEDARGS
	MOVQ $4, R13

rowrow:
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), CX
	VPXORD  Z0, Z0, Z0
	VPXORD  Z1, Z1, Z1
	VPXORD  Z2, Z2, Z2
	VPXORD  Z3, Z3, Z3
	VPXORD  Z4, Z4, Z4
	VPXORD  Z5, Z5, Z5
	VPXORD  Z6, Z6, Z6
	VPXORD  Z7, Z7, Z7
	CMPQ    AX, CX
	JGE     rowepi
	CMPQ    np+48(FP), $4
	JLT     rowloop3

rowloop4:
	SKIPSTEP512
	VFMADD231PS (BX)(DX*1), Z31, Z0
	VFMADD231PS 64(BX)(DX*1), Z31, Z1
	VFMADD231PS (R9)(DX*1), Z31, Z2
	VFMADD231PS 64(R9)(DX*1), Z31, Z3
	VFMADD231PS (R10)(DX*1), Z31, Z4
	VFMADD231PS 64(R10)(DX*1), Z31, Z5
	VFMADD231PS (R14)(DX*1), Z31, Z6
	VFMADD231PS 64(R14)(DX*1), Z31, Z7
	INCQ AX
	CMPQ AX, CX
	JLT  rowloop4
	JMP  rowepi

rowloop3:
	SKIPSTEP512
	VFMADD231PS (BX)(DX*1), Z31, Z0
	VFMADD231PS 64(BX)(DX*1), Z31, Z1
	VFMADD231PS (R9)(DX*1), Z31, Z2
	VFMADD231PS 64(R9)(DX*1), Z31, Z3
	VFMADD231PS (R10)(DX*1), Z31, Z4
	VFMADD231PS 64(R10)(DX*1), Z31, Z5
	INCQ AX
	CMPQ AX, CX
	JLT  rowloop3

rowepi:
	// acc *= alpha unless alpha is 1.
	MOVL alpha+72(FP), AX
	CMPL AX, $0x3f800000
	JEQ  rowbeta
	VBROADCASTSS alpha+72(FP), Z30
	VMULPS Z30, Z0, Z0
	VMULPS Z30, Z1, Z1
	VMULPS Z30, Z2, Z2
	VMULPS Z30, Z3, Z3
	VMULPS Z30, Z4, Z4
	VMULPS Z30, Z5, Z5
	VMULPS Z30, Z6, Z6
	VMULPS Z30, Z7, Z7

rowbeta:
	MOVQ np+48(FP), DX
	// acc += beta*C unless beta is ±0.
	MOVL beta+76(FP), AX
	ANDL $0x7fffffff, AX
	JEQ  rowstore
	VBROADCASTSS beta+76(FP), Z30
	VFMADD231PS (R11), Z30, Z0
	VFMADD231PS 64(R11), Z30, Z1
	VFMADD231PS 128(R11), Z30, Z2
	VFMADD231PS 192(R11), Z30, Z3
	VFMADD231PS 256(R11), Z30, Z4
	VFMADD231PS 320(R11), Z30, Z5
	CMPQ DX, $4
	JLT  rowstore
	VFMADD231PS 384(R11), Z30, Z6
	VFMADD231PS 448(R11), Z30, Z7

rowstore:
	VMOVUPS Z0, (R11)
	VMOVUPS Z1, 64(R11)
	VMOVUPS Z2, 128(R11)
	VMOVUPS Z3, 192(R11)
	VMOVUPS Z4, 256(R11)
	VMOVUPS Z5, 320(R11)
	CMPQ DX, $4
	JLT  rownext
	VMOVUPS Z6, 384(R11)
	VMOVUPS Z7, 448(R11)

rownext:
	ADDQ ldc+64(FP), R11
	ADDQ lda+16(FP), DI
	ADDQ $4, R8
	DECQ R13
	JNE  rowrow
	VZEROUPPER
	RET

// PAIRSTEP512 is one listed step of a row of A at RA, entry E, into
// the two panels at BX and R9 (ZB holding its value): accumulators Z(A0)
// to Z(A0+3).
#define PAIRSTEP512(E, RA, ZB, A0, A1, A2, A3) \
	MOVLQSX      (SI)(E*4), DX \
	MOVQ         DX, R12 \
	SHRQ         $5, R12 \
	VBROADCASTSS (RA)(R12*1), ZB \
	VFMADD231PS  (BX)(DX*1), ZB, A0 \
	VFMADD231PS  64(BX)(DX*1), ZB, A1 \
	VFMADD231PS  (R9)(DX*1), ZB, A2 \
	VFMADD231PS  64(R9)(DX*1), ZB, A3

// PAIREPI512 finishes the four accumulators of a row into C at RC:
// times alpha unless alpha is 1, plus beta*C unless beta is ±0.
#define PAIREPI512(RC, A0, A1, A2, A3) \
	CMPL         AX, $0x3f800000 \
	JEQ          5(PC) \
	VMULPS       Z29, A0, A0 \
	VMULPS       Z29, A1, A1 \
	VMULPS       Z29, A2, A2 \
	VMULPS       Z29, A3, A3 \
	TESTL        CX, CX \
	JEQ          5(PC) \
	VFMADD231PS  (RC), Z28, A0 \
	VFMADD231PS  64(RC), Z28, A1 \
	VFMADD231PS  128(RC), Z28, A2 \
	VFMADD231PS  192(RC), Z28, A3 \
	VMOVUPS      A0, (RC) \
	VMOVUPS      A1, 64(RC) \
	VMOVUPS      A2, 128(RC) \
	VMOVUPS      A3, 192(RC)

// func skipRows2AVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, c *float32, ldc int, alpha float32, beta float32)
//
// skipRowsAVX512 for two panels, two rows at a time: rows 2r and 2r+1
// take their listed steps in turn while both have some (eight chains of
// multiply-adds, where one row has four), then the one with steps left
// alone. Each element is computed as skipRowsAVX2 computes it, bit for
// bit. Accumulators: row 2r in Z0-Z3, row 2r+1 in Z4-Z7.
TEXT ·skipRows2AVX512(SB), NOSPLIT, $0-72
	MOVQ offs+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ lda+16(FP), R12
	SHLQ $2, R12
	MOVQ R12, lda+16(FP) // in bytes from here on
	MOVQ ldc+56(FP), R12
	SHLQ $2, R12
	MOVQ R12, ldc+56(FP) // in bytes from here on
	MOVQ starts+24(FP), R8
	MOVQ b+32(FP), BX
	MOVQ ps+40(FP), R9
	ADDQ BX, R9
	MOVQ c+48(FP), R11
	VBROADCASTSS alpha+64(FP), Z29
	VBROADCASTSS beta+68(FP), Z28
	MOVQ $2, R13

pairrows:
	MOVQ    DI, R15
	ADDQ    lda+16(FP), R15
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), CX
	MOVLQSX 4(R8), R10
	MOVLQSX 8(R8), R14
	VPXORD  Z0, Z0, Z0
	VPXORD  Z1, Z1, Z1
	VPXORD  Z2, Z2, Z2
	VPXORD  Z3, Z3, Z3
	VPXORD  Z4, Z4, Z4
	VPXORD  Z5, Z5, Z5
	VPXORD  Z6, Z6, Z6
	VPXORD  Z7, Z7, Z7
	CMPQ    AX, CX
	JGE     pairone
	CMPQ    R10, R14
	JGE     pairzero

pairboth:
	PAIRSTEP512(AX, DI, Z31, Z0, Z1, Z2, Z3)
	PAIRSTEP512(R10, R15, Z30, Z4, Z5, Z6, Z7)
	INCQ    AX
	INCQ    R10
	CMPQ    AX, CX
	JGE     pairone
	CMPQ    R10, R14
	JLT     pairboth

pairzero:
	// Row 2r alone.
	PAIRSTEP512(AX, DI, Z31, Z0, Z1, Z2, Z3)
	INCQ    AX
	CMPQ    AX, CX
	JLT     pairzero
	JMP     pairepi

pairone:
	// Row 2r+1 alone.
	CMPQ    R10, R14
	JGE     pairepi
	PAIRSTEP512(R10, R15, Z30, Z4, Z5, Z6, Z7)
	INCQ    R10
	JMP     pairone

pairepi:
	MOVL    alpha+64(FP), AX
	MOVL    beta+68(FP), CX
	ANDL    $0x7fffffff, CX
	PAIREPI512(R11, Z0, Z1, Z2, Z3)
	ADDQ    ldc+56(FP), R11
	PAIREPI512(R11, Z4, Z5, Z6, Z7)
	ADDQ    ldc+56(FP), R11
	MOVQ    R15, DI
	ADDQ    lda+16(FP), DI
	ADDQ    $8, R8
	DECQ    R13
	JNE     pairrows
	VZEROUPPER
	RET

// ZERO16 clears the accumulators Z0-Z15.
#define ZERO16 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

// ALPHA16 multiplies the accumulators Z0-Z15 by alpha (at OFF(FP)) unless
// alpha is 1, then goes on at label NEXT (AX is clobbered).
#define ALPHA16(OFF, NEXT) \
	MOVL         OFF(FP), AX \
	CMPL         AX, $0x3f800000 \
	JEQ          NEXT \
	VBROADCASTSS OFF(FP), Z30 \
	VMULPS       Z30, Z0, Z0 \
	VMULPS       Z30, Z1, Z1 \
	VMULPS       Z30, Z2, Z2 \
	VMULPS       Z30, Z3, Z3 \
	VMULPS       Z30, Z4, Z4 \
	VMULPS       Z30, Z5, Z5 \
	VMULPS       Z30, Z6, Z6 \
	VMULPS       Z30, Z7, Z7 \
	VMULPS       Z30, Z8, Z8 \
	VMULPS       Z30, Z9, Z9 \
	VMULPS       Z30, Z10, Z10 \
	VMULPS       Z30, Z11, Z11 \
	VMULPS       Z30, Z12, Z12 \
	VMULPS       Z30, Z13, Z13 \
	VMULPS       Z30, Z14, Z14 \
	VMULPS       Z30, Z15, Z15

// PAIRSTORE512 finishes one panel of the two rows (at byte OFF of R11
// and R12): plus beta*C (Z30) unless beta is ±0 (AX zero), then stored.
#define PAIRSTORE512(OFF, A0, A1, B0, B1) \
	TESTL       AX, AX \
	JEQ         5(PC) \
	VFMADD231PS OFF(R11), Z30, A0 \
	VFMADD231PS OFF+64(R11), Z30, A1 \
	VFMADD231PS OFF(R12), Z30, B0 \
	VFMADD231PS OFF+64(R12), Z30, B1 \
	VMOVUPS     A0, OFF(R11) \
	VMOVUPS     A1, OFF+64(R11) \
	VMOVUPS     B0, OFF(R12) \
	VMOVUPS     B1, OFF+64(R12)

// PAIRSTEPA512 loads the listed step at entry AX (its byte offset in a
// panel into DX) and broadcasts its values in the rows of A at DI and
// R15 into Z30 and Z31.
#define PAIRSTEPA512 \
	MOVLQSX      (SI)(AX*4), DX \
	MOVQ         DX, R12 \
	SHRQ         $5, R12 \
	VBROADCASTSS (DI)(R12*1), Z30 \
	VBROADCASTSS (R15)(R12*1), Z31

// PAIRLOAD loads the panel row of the step (DX) of the panel at BASE
// into ZB0, ZB1; PAIRFMA adds the products of ZB0, ZB1 with ZA to A0,
// A1. (A step's loads first, then one row's multiply-adds, then the
// other's: 1% faster than panel by panel.)
#define PAIRLOAD(BASE, ZB0, ZB1) \
	VMOVUPS     (BASE)(DX*1), ZB0 \
	VMOVUPS     64(BASE)(DX*1), ZB1

#define PAIRFMA(ZA, ZB0, ZB1, A0, A1) \
	VFMADD231PS ZB0, ZA, A0 \
	VFMADD231PS ZB1, ZA, A1

// func skipPairsAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)
//
// The pair-listed product, one to four panels (np): for each pair r < 2
// of rows i = 2r, 2r+1 and panel q < np, C[i][32q+j] = alpha*Σe
// a[i*lda+p]*B[q][32p+j] + beta*C[i][32q+j], p = offs[e]/128 for e from
// starts[r] to starts[r+1] in order (the steps at which either row of
// the pair is not zero), C unread when beta is ±0; panel q starts at b +
// q*ps bytes. Each element is computed as skipRowsAVX2 computes it: one
// fused multiply-add per listed step in order from zero (a step at which
// the element's row is zero adds a zero product, which leaves the sum
// as it was but for the sign of a zero), a product by alpha unless alpha
// is 1, then beta*C in one fused multiply-add unless beta is ±0. Each
// panel row is loaded once for the two rows: B in Z16-Z23, row 2r's
// accumulators in Z0-Z7, row 2r+1's in Z8-Z15.
TEXT ·skipPairsAVX512(SB), NOSPLIT, $0-80
	LISTEDARGS
	MOVQ $2, R13

pairsrow:
	MOVQ    DI, R15
	ADDQ    lda+16(FP), R15
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), CX
	ZERO16
	CMPQ    AX, CX
	JGE     pairsepi
	MOVQ    np+48(FP), DX
	CMPQ    DX, $3
	JEQ     pairloop3
	JGT     pairloop4
	CMPQ    DX, $2
	JEQ     pairloop2
	JMP     pairloop1

pairloop4:
	PAIRSTEPA512
	PAIRLOAD(BX, Z16, Z17)
	PAIRLOAD(R9, Z18, Z19)
	PAIRLOAD(R10, Z20, Z21)
	PAIRLOAD(R14, Z22, Z23)
	PAIRFMA(Z30, Z16, Z17, Z0, Z1)
	PAIRFMA(Z30, Z18, Z19, Z2, Z3)
	PAIRFMA(Z30, Z20, Z21, Z4, Z5)
	PAIRFMA(Z30, Z22, Z23, Z6, Z7)
	PAIRFMA(Z31, Z16, Z17, Z8, Z9)
	PAIRFMA(Z31, Z18, Z19, Z10, Z11)
	PAIRFMA(Z31, Z20, Z21, Z12, Z13)
	PAIRFMA(Z31, Z22, Z23, Z14, Z15)
	INCQ         AX
	CMPQ         AX, CX
	JLT          pairloop4
	JMP          pairsepi

pairloop3:
	PAIRSTEPA512
	PAIRLOAD(BX, Z16, Z17)
	PAIRLOAD(R9, Z18, Z19)
	PAIRLOAD(R10, Z20, Z21)
	PAIRFMA(Z30, Z16, Z17, Z0, Z1)
	PAIRFMA(Z30, Z18, Z19, Z2, Z3)
	PAIRFMA(Z30, Z20, Z21, Z4, Z5)
	PAIRFMA(Z31, Z16, Z17, Z8, Z9)
	PAIRFMA(Z31, Z18, Z19, Z10, Z11)
	PAIRFMA(Z31, Z20, Z21, Z12, Z13)
	INCQ         AX
	CMPQ         AX, CX
	JLT          pairloop3
	JMP          pairsepi

pairloop2:
	PAIRSTEPA512
	PAIRLOAD(BX, Z16, Z17)
	PAIRLOAD(R9, Z18, Z19)
	PAIRFMA(Z30, Z16, Z17, Z0, Z1)
	PAIRFMA(Z30, Z18, Z19, Z2, Z3)
	PAIRFMA(Z31, Z16, Z17, Z8, Z9)
	PAIRFMA(Z31, Z18, Z19, Z10, Z11)
	INCQ         AX
	CMPQ         AX, CX
	JLT          pairloop2
	JMP          pairsepi

pairloop1:
	PAIRSTEPA512
	PAIRLOAD(BX, Z16, Z17)
	PAIRFMA(Z30, Z16, Z17, Z0, Z1)
	PAIRFMA(Z31, Z16, Z17, Z8, Z9)
	INCQ         AX
	CMPQ         AX, CX
	JLT          pairloop1
	JMP          pairsepi

pairsepi:
	// acc *= alpha unless alpha is 1.
	ALPHA16(alpha+72, pairsbeta)

pairsbeta:
	// acc += beta*C unless beta is ±0, then the stores: panel by panel,
	// np of them, row 2r at R11 and row 2r+1 at R12.
	MOVQ         R11, R12
	ADDQ         ldc+64(FP), R12
	MOVL         beta+76(FP), AX
	ANDL         $0x7fffffff, AX
	VBROADCASTSS beta+76(FP), Z30
	MOVQ         np+48(FP), DX
	PAIRSTORE512(0, Z0, Z1, Z8, Z9)
	CMPQ         DX, $2
	JLT          pairsnext
	PAIRSTORE512(128, Z2, Z3, Z10, Z11)
	CMPQ         DX, $3
	JLT          pairsnext
	PAIRSTORE512(256, Z4, Z5, Z12, Z13)
	CMPQ         DX, $4
	JLT          pairsnext
	PAIRSTORE512(384, Z6, Z7, Z14, Z15)

pairsnext:
	MOVQ R12, R11
	ADDQ ldc+64(FP), R11
	MOVQ R15, DI
	ADDQ lda+16(FP), DI
	ADDQ $4, R8
	DECQ R13
	JNE  pairsrow
	VZEROUPPER
	RET

// skipIota128 holds 128*j in lane j < 16: the panel-row byte offsets of
// sixteen steps.
DATA skipIota128<>+0(SB)/4, $0
DATA skipIota128<>+4(SB)/4, $128
DATA skipIota128<>+8(SB)/4, $256
DATA skipIota128<>+12(SB)/4, $384
DATA skipIota128<>+16(SB)/4, $512
DATA skipIota128<>+20(SB)/4, $640
DATA skipIota128<>+24(SB)/4, $768
DATA skipIota128<>+28(SB)/4, $896
DATA skipIota128<>+32(SB)/4, $1024
DATA skipIota128<>+36(SB)/4, $1152
DATA skipIota128<>+40(SB)/4, $1280
DATA skipIota128<>+44(SB)/4, $1408
DATA skipIota128<>+48(SB)/4, $1536
DATA skipIota128<>+52(SB)/4, $1664
DATA skipIota128<>+56(SB)/4, $1792
DATA skipIota128<>+60(SB)/4, $1920
GLOBL skipIota128<>(SB), RODATA|NOPTR, $64

// SCANSETUP sets what the scans sixteen steps at a time keep: zero in
// Z15, 2048 (sixteen steps of 128 bytes) in each lane of Z13, and in K2
// the kb mod 16 lanes of the last steps (kb in DX; BX and CX clobbered).
#define SCANSETUP \
	VPXORD       Z15, Z15, Z15 \
	MOVL         $2048, BX \
	VPBROADCASTD BX, Z13 \
	MOVQ         DX, CX \
	ANDQ         $15, CX \
	MOVL         $1, BX \
	SHLL         CX, BX \
	DECL         BX \
	KMOVW        BX, K2

// SCANROW16 lists the lanes of K1 (the non-zero values of steps
// 16t..16t+15 of a row, Z14 holding 2048*t + 128*j in lane j): their
// offsets at offs (DI) from entry AX on, in one store of sixteen; AX
// moves past them.
#define SCANROW16 \
	VPCOMPRESSD Z14, K1, Z2 \
	VMOVDQU32   Z2, (DI)(AX*4) \
	KMOVW       K1, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, AX \
	VPADDD      Z13, Z14, Z14

// func skipScanRows4AVX512(kb int, a *float32, lda int, offs *int32, ends *int32)
//
// skipScanRows4AVX2 (sgemm_skip_amd64.s) sixteen steps at a time: the
// compare of a row's values with zero gives the mask of the steps to
// list, whose offsets one compress packs to the left and one store
// writes (so offs must have room for 4*kb+16 entries).
TEXT ·skipScanRows4AVX512(SB), NOSPLIT, $0-40
	MOVQ    kb+0(FP), DX
	MOVQ    a+8(FP), R11
	MOVQ    lda+16(FP), R12
	SHLQ    $2, R12
	MOVQ    offs+24(FP), DI
	MOVQ    ends+32(FP), R9
	XORQ    AX, AX
	SCANSETUP
	MOVQ    $4, R13

scan16row:
	MOVQ    R11, SI
	VMOVDQU32 skipIota128<>(SB), Z14
	MOVQ    DX, CX
	SHRQ    $4, CX
	JEQ     scan16tail

scan16loop:
	VCMPPS  $4, (SI), Z15, K1
	SCANROW16
	ADDQ    $64, SI
	DECQ    CX
	JNE     scan16loop

scan16tail:
	TESTQ   $15, DX
	JEQ     scan16rowend
	VMOVUPS.Z (SI), K2, Z0
	VCMPPS  $4, Z0, Z15, K1
	SCANROW16

scan16rowend:
	MOVL    AX, (R9)
	ADDQ    $4, R9
	ADDQ    R12, R11
	DECQ    R13
	JNE     scan16row
	VZEROUPPER
	RET

// SCANPAIR16 lists the steps of K3 | K4 (the non-zero values of steps
// 16t..16t+15 of two rows, Z14 holding 2048*t + 128*j in lane j): their
// offsets at offs (DI) from entry AX on, in one store of sixteen; AX
// moves past them, and R8 past the values of K3 and K4.
#define SCANPAIR16 \
	KORW        K3, K4, K1 \
	KUNPCKWD    K3, K4, K5 \
	VPCOMPRESSD Z14, K1, Z2 \
	VMOVDQU32   Z2, (DI)(AX*4) \
	KMOVW       K1, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, AX \
	KMOVD       K5, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, R8 \
	VPADDD      Z13, Z14, Z14

// func skipScanPairsAVX512(kb int, a *float32, lda int, offs *int32, ends *int32) (rows int)
//
// Lists, for each pair r < 2 of the rows 2r, 2r+1 of the 4×kb matrix at
// a (stride lda) in turn, the steps p < kb at which either row is
// neither +0 nor -0 (a NaN is listed), in order, as offsets 128*p (so
// that offs must have room for 2*kb+16 entries); ends[r] is the count of
// entries of pairs 0 to r. It returns the values of the four rows that
// are neither (what scanRows4 lists). Sixteen steps at a time, as
// skipScanRows4AVX512.
TEXT ·skipScanPairsAVX512(SB), NOSPLIT, $0-48
	MOVQ    kb+0(FP), DX
	MOVQ    a+8(FP), R11
	MOVQ    lda+16(FP), R12
	SHLQ    $2, R12
	MOVQ    offs+24(FP), DI
	MOVQ    ends+32(FP), R9
	XORQ    AX, AX
	XORQ    R8, R8 // rows
	SCANSETUP
	MOVQ    $2, R13

pscanpair:
	MOVQ    R11, SI
	VMOVDQU32 skipIota128<>(SB), Z14
	MOVQ    DX, CX
	SHRQ    $4, CX
	JEQ     pscantail

pscanloop:
	VCMPPS  $4, (SI), Z15, K3
	VCMPPS  $4, (SI)(R12*1), Z15, K4
	SCANPAIR16
	ADDQ    $64, SI
	DECQ    CX
	JNE     pscanloop

pscantail:
	TESTQ   $15, DX
	JEQ     pscanend
	VMOVUPS.Z (SI), K2, Z0
	VMOVUPS.Z (SI)(R12*1), K2, Z1
	VCMPPS  $4, Z0, Z15, K3
	VCMPPS  $4, Z1, Z15, K4
	SCANPAIR16

pscanend:
	MOVL    AX, (R9)
	ADDQ    $4, R9
	LEAQ    (R11)(R12*2), R11
	DECQ    R13
	JNE     pscanpair
	MOVQ    R8, rows+40(FP)
	VZEROUPPER
	RET

// UNIONSTEP loads the listed step at entry AX (its byte offset in a
// panel into DX) and broadcasts its values in the four rows of A (at DI,
// R13, R14 and R15) into Z20-Z23.
#define UNIONSTEP \
	MOVLQSX      (SI)(AX*4), DX \
	MOVQ         DX, R12 \
	SHRQ         $5, R12 \
	VBROADCASTSS (DI)(R12*1), Z20 \
	VBROADCASTSS (R13)(R12*1), Z21 \
	VBROADCASTSS (R14)(R12*1), Z22 \
	VBROADCASTSS (R15)(R12*1), Z23

// UNIONFMA adds the products of the panel row in ZB0, ZB1 with the four
// rows' values (Z20-Z23) to the rows' accumulators of its columns: A0,
// A1 for row 0, B0, B1 for row 1, and so on.
#define UNIONFMA(ZB0, ZB1, A0, A1, B0, B1, C0, C1, D0, D1) \
	VFMADD231PS ZB0, Z20, A0 \
	VFMADD231PS ZB1, Z20, A1 \
	VFMADD231PS ZB0, Z21, B0 \
	VFMADD231PS ZB1, Z21, B1 \
	VFMADD231PS ZB0, Z22, C0 \
	VFMADD231PS ZB1, Z22, C1 \
	VFMADD231PS ZB0, Z23, D0 \
	VFMADD231PS ZB1, Z23, D1

// UNIONSTORE finishes a row's 32 columns at OFF(ROW) from its
// accumulators A0, A1: acc += beta*C (beta in Z30) unless beta is ±0 (AX
// zero), then the stores.
#define UNIONSTORE(ROW, OFF, A0, A1) \
	TESTL       AX, AX \
	JEQ         3(PC) \
	VFMADD231PS OFF(ROW), Z30, A0 \
	VFMADD231PS OFF+64(ROW), Z30, A1 \
	VMOVUPS     A0, OFF(ROW) \
	VMOVUPS     A1, OFF+64(ROW)

// UNIONSTORE4 finishes a panel's 32 columns at OFF bytes from R11 (row 0
// of C; rows R10 bytes apart) in the four rows, from their accumulators
// A0, A1 (row 0) to D0, D1 (row 3), as UNIONSTORE does; DX and R12 are
// clobbered.
#define UNIONSTORE4(OFF, A0, A1, B0, B1, C0, C1, D0, D1) \
	MOVQ R11, DX \
	LEAQ (R11)(R10*2), R12 \
	UNIONSTORE(DX, OFF, A0, A1) \
	UNIONSTORE(R12, OFF, C0, C1) \
	ADDQ R10, DX \
	ADDQ R10, R12 \
	UNIONSTORE(DX, OFF, B0, B1) \
	UNIONSTORE(R12, OFF, D0, D1)

// func skipUnionAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)
//
// The product on one list for the four rows, np panels (np ≥ 1): for
// each row i < 4 and panel q < np, C[i][32q+j] = alpha*Σe
// a[i*lda+p]*B[q][32p+j] + beta*C[i][32q+j], p = offs[e]/128 for e from
// starts[0] to starts[1] in order (the steps at which some row is not
// zero), C unread when beta is ±0; panel q starts at b + q*ps bytes.
// Each element is computed as skipPairsAVX512 computes it (a step at
// which the element's row is zero adds a zero product). Two panels at a
// time, each listed panel row loaded once for the four rows: B in
// Z16-Z19, the four rows' values in Z20-Z23, the accumulators of row i in
// Z(4i)..Z(4i+3) (the first panel's two, then the second's); a last
// panel alone in the first two of each row. (Sixteen accumulators: the
// four rows by all four panels would need 32, and the multiply-adds, not
// the loads, bound a step.)
TEXT ·skipUnionAVX512(SB), NOSPLIT, $0-80
	MOVQ    offs+0(FP), SI
	MOVQ    a+8(FP), DI
	MOVQ    lda+16(FP), R13
	SHLQ    $2, R13
	LEAQ    (DI)(R13*2), R14
	LEAQ    (R14)(R13*1), R15
	ADDQ    DI, R13
	MOVQ    starts+24(FP), R8
	MOVLQSX 4(R8), CX
	MOVLQSX (R8), R8
	MOVQ    b+32(FP), BX
	MOVQ    c+56(FP), R11
	MOVQ    ldc+64(FP), R10
	SHLQ    $2, R10

unionpass:
	ZERO16
	MOVQ   R8, AX
	CMPQ   AX, CX
	JGE    unionepi
	CMPQ   np+48(FP), $2
	JLT    unionloop1
	MOVQ   BX, R9
	ADDQ   ps+40(FP), R9

unionloop2:
	UNIONSTEP
	VMOVUPS (BX)(DX*1), Z16
	VMOVUPS 64(BX)(DX*1), Z17
	VMOVUPS (R9)(DX*1), Z18
	VMOVUPS 64(R9)(DX*1), Z19
	UNIONFMA(Z16, Z17, Z0, Z1, Z4, Z5, Z8, Z9, Z12, Z13)
	UNIONFMA(Z18, Z19, Z2, Z3, Z6, Z7, Z10, Z11, Z14, Z15)
	INCQ    AX
	CMPQ    AX, CX
	JLT     unionloop2
	JMP     unionepi

unionloop1:
	UNIONSTEP
	VMOVUPS (BX)(DX*1), Z16
	VMOVUPS 64(BX)(DX*1), Z17
	UNIONFMA(Z16, Z17, Z0, Z1, Z4, Z5, Z8, Z9, Z12, Z13)
	INCQ    AX
	CMPQ    AX, CX
	JLT     unionloop1

unionepi:
	// acc *= alpha unless alpha is 1.
	ALPHA16(alpha+72, unionbeta)

unionbeta:
	// acc += beta*C unless beta is ±0, then the stores.
	MOVL         beta+76(FP), AX
	ANDL         $0x7fffffff, AX
	VBROADCASTSS beta+76(FP), Z30
	UNIONSTORE4(0, Z0, Z1, Z4, Z5, Z8, Z9, Z12, Z13)
	CMPQ         np+48(FP), $2
	JLT          uniondone
	UNIONSTORE4(128, Z2, Z3, Z6, Z7, Z10, Z11, Z14, Z15)
	// The next two panels.
	ADDQ         $256, R11
	MOVQ         ps+40(FP), DX
	LEAQ         (BX)(DX*2), BX
	SUBQ         $2, np+48(FP)
	CMPQ         np+48(FP), $0
	JGT          unionpass

uniondone:
	VZEROUPPER
	RET

// UNION16 lists the steps of K1 | K3 | K4 | K5 (the non-zero values of
// steps 16t..16t+15 of the four rows, Z14 holding 2048*t + 128*j in lane
// j): their offsets at offs (DI) from entry AX on, in one store of
// sixteen; AX moves past them, R8 past the values of the four masks and
// R9 past the steps of K1 | K3 and of K4 | K5 (what the pair lists would
// list).
#define UNION16 \
	KUNPCKWD    K1, K3, K6 \
	KMOVD       K6, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, R8 \
	KUNPCKWD    K4, K5, K6 \
	KMOVD       K6, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, R8 \
	KORW        K1, K3, K1 \
	KORW        K4, K5, K4 \
	KUNPCKWD    K1, K4, K6 \
	KMOVD       K6, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, R9 \
	KORW        K1, K4, K1 \
	VPCOMPRESSD Z14, K1, Z2 \
	VMOVDQU32   Z2, (DI)(AX*4) \
	KMOVW       K1, BX \
	POPCNTL     BX, BX \
	ADDQ        BX, AX \
	VPADDD      Z13, Z14, Z14

// func skipScanUnionAVX512(kb int, a *float32, lda int, offs *int32) (n int, rows int, pairs int)
//
// Lists the steps p < kb at which some row of the 4×kb matrix at a
// (stride lda) is neither +0 nor -0 (a NaN is listed), in order, as
// offsets 128*p (so that offs must have room for kb+16 entries), and
// returns how many it listed, the values of the four rows that are
// neither (what scanRows4 lists) and the steps either row of each pair is
// neither at (what scanPairs lists). Sixteen steps at a time, as
// skipScanRows4AVX512.
TEXT ·skipScanUnionAVX512(SB), NOSPLIT, $0-56
	MOVQ    kb+0(FP), DX
	MOVQ    a+8(FP), R11
	MOVQ    lda+16(FP), R12
	SHLQ    $2, R12
	LEAQ    (R11)(R12*2), R13
	MOVQ    offs+24(FP), DI
	XORQ    AX, AX
	XORQ    R8, R8
	XORQ    R9, R9
	SCANSETUP
	VMOVDQU32 skipIota128<>(SB), Z14
	MOVQ    DX, CX
	SHRQ    $4, CX
	JEQ     uscantail

uscanloop:
	VCMPPS  $4, (R11), Z15, K1
	VCMPPS  $4, (R11)(R12*1), Z15, K3
	VCMPPS  $4, (R13), Z15, K4
	VCMPPS  $4, (R13)(R12*1), Z15, K5
	UNION16
	ADDQ    $64, R11
	ADDQ    $64, R13
	DECQ    CX
	JNE     uscanloop

uscantail:
	TESTQ     $15, DX
	JEQ       uscanend
	VMOVUPS.Z (R11), K2, Z0
	VMOVUPS.Z (R11)(R12*1), K2, Z1
	VMOVUPS.Z (R13), K2, Z3
	VMOVUPS.Z (R13)(R12*1), K2, Z4
	VCMPPS    $4, Z0, Z15, K1
	VCMPPS    $4, Z1, Z15, K3
	VCMPPS    $4, Z3, Z15, K4
	VCMPPS    $4, Z4, Z15, K5
	UNION16

uscanend:
	MOVQ    AX, n+32(FP)
	MOVQ    R8, rows+40(FP)
	MOVQ    R9, pairs+48(FP)
	VZEROUPPER
	RET
