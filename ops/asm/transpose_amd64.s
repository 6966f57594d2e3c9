//go:build !purego

#include "textflag.h"

// func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int)
//
// Each block: the eight rows r0..r7 are interleaved in pairs (unpck),
// then in fours (shufps), then their 128-bit halves exchanged
// (vperm2f128), giving the eight columns.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), BX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), DX
	MOVQ nb+32(FP), CX
	SHLQ $2, BX             // row strides in bytes
	SHLQ $2, DX
	LEAQ (BX)(BX*2), R8     // 3*lds
	LEAQ (DX)(DX*2), R9     // 3*ldd
	MOVQ DX, R10
	SHLQ $3, R10            // 8*ldd: the next block of dst
	TESTQ CX, CX
	JLE  done

loop:
	LEAQ (SI)(BX*4), R11    // rows 4..7
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(R8*1), Y3
	VMOVUPS (R11), Y4
	VMOVUPS (R11)(BX*1), Y5
	VMOVUPS (R11)(BX*2), Y6
	VMOVUPS (R11)(R8*1), Y7

	VUNPCKLPS Y1, Y0, Y8    // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y9    // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0   // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y10, Y8, Y1   // a1 b1 c1 d1 | a5 ...
	VSHUFPS $0x44, Y11, Y9, Y2   // a2 .. | a6 ..
	VSHUFPS $0xEE, Y11, Y9, Y3   // a3 .. | a7 ..
	VSHUFPS $0x44, Y14, Y12, Y4  // e0 f0 g0 h0 | e4 ..
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	LEAQ (DI)(DX*4), R11    // columns 4..7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VMOVUPS Y8, (DI)
	VPERM2F128 $0x20, Y5, Y1, Y9
	VMOVUPS Y9, (DI)(DX*1)
	VPERM2F128 $0x20, Y6, Y2, Y10
	VMOVUPS Y10, (DI)(DX*2)
	VPERM2F128 $0x20, Y7, Y3, Y11
	VMOVUPS Y11, (DI)(R9*1)
	VPERM2F128 $0x31, Y4, Y0, Y12
	VMOVUPS Y12, (R11)
	VPERM2F128 $0x31, Y5, Y1, Y13
	VMOVUPS Y13, (R11)(DX*1)
	VPERM2F128 $0x31, Y6, Y2, Y14
	VMOVUPS Y14, (R11)(DX*2)
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y15, (R11)(R9*1)

	ADDQ $32, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
