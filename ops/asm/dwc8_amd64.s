//go:build !purego

#include "textflag.h"

// The channel-interleaved 3×3 depthwise convolution of dwc8_amd64.go:
// eight planes at a time, one per vector lane, through a zero-bordered
// buffer P of Hp×Wp positions of 8 floats.

DATA dwc8Mask<>+0(SB)/4, $0xffffffff
DATA dwc8Mask<>+4(SB)/4, $0xffffffff
DATA dwc8Mask<>+8(SB)/4, $0xffffffff
DATA dwc8Mask<>+12(SB)/4, $0xffffffff
DATA dwc8Mask<>+16(SB)/4, $0xffffffff
DATA dwc8Mask<>+20(SB)/4, $0xffffffff
DATA dwc8Mask<>+24(SB)/4, $0xffffffff
DATA dwc8Mask<>+28(SB)/4, $0xffffffff
DATA dwc8Mask<>+32(SB)/4, $0x00000000
DATA dwc8Mask<>+36(SB)/4, $0x00000000
DATA dwc8Mask<>+40(SB)/4, $0x00000000
DATA dwc8Mask<>+44(SB)/4, $0x00000000
DATA dwc8Mask<>+48(SB)/4, $0x00000000
DATA dwc8Mask<>+52(SB)/4, $0x00000000
DATA dwc8Mask<>+56(SB)/4, $0x00000000
DATA dwc8Mask<>+60(SB)/4, $0x00000000
GLOBL dwc8Mask<>(SB), RODATA|NOPTR, $64

// TRANSPOSE8: Y0..Y7 (rows) become Y8..Y15 (columns); Y0..Y7 are
// clobbered.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8          \
	VUNPCKHPS  Y1, Y0, Y9          \
	VUNPCKLPS  Y3, Y2, Y10         \
	VUNPCKHPS  Y3, Y2, Y11         \
	VUNPCKLPS  Y5, Y4, Y12         \
	VUNPCKHPS  Y5, Y4, Y13         \
	VUNPCKLPS  Y7, Y6, Y14         \
	VUNPCKHPS  Y7, Y6, Y15         \
	VSHUFPS    $0x44, Y10, Y8, Y0  \
	VSHUFPS    $0xEE, Y10, Y8, Y1  \
	VSHUFPS    $0x44, Y11, Y9, Y2  \
	VSHUFPS    $0xEE, Y11, Y9, Y3  \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8   \
	VPERM2F128 $0x20, Y5, Y1, Y9   \
	VPERM2F128 $0x20, Y6, Y2, Y10  \
	VPERM2F128 $0x20, Y7, Y3, Y11  \
	VPERM2F128 $0x31, Y4, Y0, Y12  \
	VPERM2F128 $0x31, Y5, Y1, Y13  \
	VPERM2F128 $0x31, Y6, Y2, Y14  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8(op): the eight plane rows at the chunk, plane k at RP + k·PS (AX
// = RP, R10 = RP + 3·PS, R11 = RP + 4·PS, BX = PS), into Y0..Y7 by op
// (a plain or a masked load).
#define LOAD8(op) \
	op((AX), Y0)          \
	op((AX)(BX*1), Y1)    \
	op((AX)(BX*2), Y2)    \
	op((R10), Y3)         \
	op((R11), Y4)         \
	op((R11)(BX*1), Y5)   \
	op((R11)(BX*2), Y6)   \
	op((R10)(BX*4), Y7)

#define LDPLAIN(addr, y) VMOVUPS addr, y
#define LDMASK(addr, y) VMASKMOVPS addr, Y8, y

// func dwc8In(p *float32, wp int, src *float32, planeBytes int, rowBytes int, rows int, cols int)
//
// For r < rows, c < cols and k < 8: P[r·wp + c][k] = plane_k[r][c], where
// plane k's row r starts at src + k·planeBytes + r·rowBytes.
TEXT ·dwc8In(SB), NOSPLIT, $0-56
	MOVQ cols+48(FP), DX
	MOVQ DX, R13
	ANDQ $7, R13
	NEGQ R13
	LEAQ dwc8Mask<>(SB), R12
	LEAQ 32(R12)(R13*4), R12
	MOVQ p+0(FP), DI
	MOVQ wp+8(FP), R9
	SHLQ $5, R9
	MOVQ src+16(FP), SI
	MOVQ planeBytes+24(FP), BX
	MOVQ rowBytes+32(FP), R14
	MOVQ rows+40(FP), CX
	TESTQ CX, CX
	JLE  in_done
	TESTQ DX, DX
	JLE  in_done

in_row:
	// AX, R10, R11 = the plane rows (see LOAD8), R15 = the P row, R8 =
	// columns left.
	MOVQ SI, AX
	LEAQ (SI)(BX*2), R10
	ADDQ BX, R10
	LEAQ (SI)(BX*4), R11
	MOVQ DI, R15
	MOVQ DX, R8

in_chunk:
	CMPQ R8, $8
	JLT  in_tail
	LOAD8(LDPLAIN)
	TRANSPOSE8
	VMOVUPS Y8, 0(R15)
	VMOVUPS Y9, 32(R15)
	VMOVUPS Y10, 64(R15)
	VMOVUPS Y11, 96(R15)
	VMOVUPS Y12, 128(R15)
	VMOVUPS Y13, 160(R15)
	VMOVUPS Y14, 192(R15)
	VMOVUPS Y15, 224(R15)
	ADDQ $256, R15
	ADDQ $32, AX
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, R8
	JMP  in_chunk

in_tail:
	TESTQ R8, R8
	JEQ   in_next
	// The last cols%8 columns: masked loads, then R8 stores.
	VMOVUPS (R12), Y8
	LOAD8(LDMASK)
	TRANSPOSE8
	VMOVUPS Y8, 0(R15)
	CMPQ R8, $2
	JLT  in_next
	VMOVUPS Y9, 32(R15)
	CMPQ R8, $3
	JLT  in_next
	VMOVUPS Y10, 64(R15)
	CMPQ R8, $4
	JLT  in_next
	VMOVUPS Y11, 96(R15)
	CMPQ R8, $5
	JLT  in_next
	VMOVUPS Y12, 128(R15)
	CMPQ R8, $6
	JLT  in_next
	VMOVUPS Y13, 160(R15)
	CMPQ R8, $7
	JLT  in_next
	VMOVUPS Y14, 192(R15)

in_next:
	ADDQ R14, SI
	ADDQ R9, DI
	DECQ CX
	JNE  in_row

in_done:
	VZEROUPPER
	RET

// Offsets of the dwc8Args fields.
#define C_O 0
#define C_P 8
#define C_WV 16
#define C_BIAS 24
#define C_WP 32
#define C_OH 40
#define C_OW 48
#define C_S 56
#define C_MODE 64
#define C_LO 72
#define C_HI 104

// The taps of input row i (0, 1, 2: at +0, +wp·32 = R12 or +2·R12
// bytes) at byte offset off for the four positions at AX, R8, R10, R11,
// summed into Y10..Y13.
#define T4R0(off, w) \
	VFMADD231PS off(AX), w, Y10  \
	VFMADD231PS off(R8), w, Y11  \
	VFMADD231PS off(R10), w, Y12 \
	VFMADD231PS off(R11), w, Y13

#define T4R1(off, w) \
	VFMADD231PS off(AX)(R12*1), w, Y10  \
	VFMADD231PS off(R8)(R12*1), w, Y11  \
	VFMADD231PS off(R10)(R12*1), w, Y12 \
	VFMADD231PS off(R11)(R12*1), w, Y13

#define T4R2(off, w) \
	VFMADD231PS off(AX)(R12*2), w, Y10  \
	VFMADD231PS off(R8)(R12*2), w, Y11  \
	VFMADD231PS off(R10)(R12*2), w, Y12 \
	VFMADD231PS off(R11)(R12*2), w, Y13

// The activation of acc (the source operand second so that a NaN passes
// through); Y14 and Y15 scratch.
#define C8ACT(acc) \
	VMOVUPS   C_LO(DX), Y14    \
	VMAXPS    acc, Y14, acc    \
	VMOVUPS   C_HI(DX), Y14    \
	VMINPS    acc, Y14, acc

#define C8LEAKY(acc) \
	VXORPS    Y15, Y15, Y15     \
	VCMPPS    $1, Y15, acc, Y14 \
	VMULPS    C_LO(DX), acc, Y15 \
	VBLENDVPS Y14, Y15, acc, acc

// func dwc8Compute(a *dwc8Args)
//
// O[y·ow + x][k] = act(bias[k] + Σi,j P[(y·s+i)·wp + x·s+j][k]·wv[3i+j][k])
// for the oh·ow positions, four at a time in order (the last group runs
// past the end: O and P have room for it).
TEXT ·dwc8Compute(SB), NOSPLIT, $0-8
	MOVQ    a+0(FP), DX
	MOVQ    C_WV(DX), AX
	VMOVUPS 0(AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VMOVUPS 128(AX), Y4
	VMOVUPS 160(AX), Y5
	VMOVUPS 192(AX), Y6
	VMOVUPS 224(AX), Y7
	VMOVUPS 256(AX), Y8
	MOVQ    C_BIAS(DX), AX
	VMOVUPS (AX), Y9
	MOVQ    C_O(DX), DI
	MOVQ    C_P(DX), SI
	// R12 = bytes per P row, R13 = bytes between two positions of an
	// output row, R14 = what BX (the position's offset in P) adds at the
	// end of an output row besides R13, R15 = ow, R9 = x, CX = positions
	// left.
	MOVQ  C_WP(DX), R12
	SHLQ  $5, R12
	MOVQ  C_S(DX), R13
	SHLQ  $5, R13
	MOVQ  C_S(DX), R14
	IMULQ R12, R14
	MOVQ  C_OW(DX), R15
	MOVQ  R15, AX
	IMULQ R13, AX
	SUBQ  AX, R14
	MOVQ  C_OH(DX), CX
	IMULQ R15, CX
	XORQ  BX, BX
	XORQ  R9, R9
	TESTQ CX, CX
	JLE   cp_done

cp_four:
	LEAQ (SI)(BX*1), AX
	ADDQ R13, BX
	INCQ R9
	CMPQ R9, R15
	JNE  cp_adv1
	XORQ R9, R9
	ADDQ R14, BX

cp_adv1:
	LEAQ (SI)(BX*1), R8
	ADDQ R13, BX
	INCQ R9
	CMPQ R9, R15
	JNE  cp_adv2
	XORQ R9, R9
	ADDQ R14, BX

cp_adv2:
	LEAQ (SI)(BX*1), R10
	ADDQ R13, BX
	INCQ R9
	CMPQ R9, R15
	JNE  cp_adv3
	XORQ R9, R9
	ADDQ R14, BX

cp_adv3:
	LEAQ (SI)(BX*1), R11
	ADDQ R13, BX
	INCQ R9
	CMPQ R9, R15
	JNE  cp_adv4
	XORQ R9, R9
	ADDQ R14, BX

cp_adv4:
	VMOVAPS Y9, Y10
	VMOVAPS Y9, Y11
	VMOVAPS Y9, Y12
	VMOVAPS Y9, Y13
	T4R0(0, Y0)
	T4R0(32, Y1)
	T4R0(64, Y2)
	T4R1(0, Y3)
	T4R1(32, Y4)
	T4R1(64, Y5)
	T4R2(0, Y6)
	T4R2(32, Y7)
	T4R2(64, Y8)
	CMPQ C_MODE(DX), $0
	JNE  cp_leaky
	C8ACT(Y10)
	C8ACT(Y11)
	C8ACT(Y12)
	C8ACT(Y13)
	JMP  cp_store

cp_leaky:
	C8LEAKY(Y10)
	C8LEAKY(Y11)
	C8LEAKY(Y12)
	C8LEAKY(Y13)

cp_store:
	VMOVUPS Y10, 0(DI)
	VMOVUPS Y11, 32(DI)
	VMOVUPS Y12, 64(DI)
	VMOVUPS Y13, 96(DI)
	ADDQ    $128, DI
	SUBQ    $4, CX
	JGT     cp_four

cp_done:
	VZEROUPPER
	RET

// func dwc8Out(dst *float32, planeBytes int, o *float32, n int, nplanes int)
//
// plane_k[p] = O[p][k] for p < n and k < nplanes, plane k at dst +
// k·planeBytes. O must extend 8 positions past n.
TEXT ·dwc8Out(SB), NOSPLIT, $0-40
	MOVQ n+24(FP), DX
	MOVQ dst+0(FP), DI
	MOVQ planeBytes+8(FP), R9
	MOVQ o+16(FP), SI
	MOVQ nplanes+32(FP), R11
	TESTQ DX, DX
	JLE  out_done
	XORQ R8, R8 // position

out_chunk:
	MOVQ DX, R10
	SUBQ R8, R10 // positions left
	JLE  out_done
	MOVQ R8, AX
	SHLQ $5, AX
	VMOVUPS 0(SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMOVUPS 64(SI)(AX*1), Y2
	VMOVUPS 96(SI)(AX*1), Y3
	VMOVUPS 128(SI)(AX*1), Y4
	VMOVUPS 160(SI)(AX*1), Y5
	VMOVUPS 192(SI)(AX*1), Y6
	VMOVUPS 224(SI)(AX*1), Y7
	TRANSPOSE8
	// BX = plane 0 at the chunk, R14 = plane k.
	LEAQ (DI)(R8*4), BX
	MOVQ BX, R14
	CMPQ R10, $8
	JLT  out_tail
	VMOVUPS Y8, (R14)
	ADDQ R9, R14
	CMPQ R11, $1
	JLE  out_chunkdone
	VMOVUPS Y9, (R14)
	ADDQ R9, R14
	CMPQ R11, $2
	JLE  out_chunkdone
	VMOVUPS Y10, (R14)
	ADDQ R9, R14
	CMPQ R11, $3
	JLE  out_chunkdone
	VMOVUPS Y11, (R14)
	ADDQ R9, R14
	CMPQ R11, $4
	JLE  out_chunkdone
	VMOVUPS Y12, (R14)
	ADDQ R9, R14
	CMPQ R11, $5
	JLE  out_chunkdone
	VMOVUPS Y13, (R14)
	ADDQ R9, R14
	CMPQ R11, $6
	JLE  out_chunkdone
	VMOVUPS Y14, (R14)
	ADDQ R9, R14
	CMPQ R11, $7
	JLE  out_chunkdone
	VMOVUPS Y15, (R14)
	JMP  out_chunkdone

out_tail:
	// The last n%8 positions (R10): 4, 2 and 1 floats at a time.
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t0a
	VMOVUPS X8, (AX)
	VEXTRACTF128 $1, Y8, X8
	ADDQ $16, AX

out_t0a:
	TESTQ $2, R10
	JEQ  out_t0b
	VMOVLPS X8, (AX)
	VMOVHLPS X8, X8, X8
	ADDQ $8, AX

out_t0b:
	TESTQ $1, R10
	JEQ  out_t0c
	VMOVSS X8, (AX)

out_t0c:
	CMPQ R11, $1
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t1a
	VMOVUPS X9, (AX)
	VEXTRACTF128 $1, Y9, X9
	ADDQ $16, AX

out_t1a:
	TESTQ $2, R10
	JEQ  out_t1b
	VMOVLPS X9, (AX)
	VMOVHLPS X9, X9, X9
	ADDQ $8, AX

out_t1b:
	TESTQ $1, R10
	JEQ  out_t1c
	VMOVSS X9, (AX)

out_t1c:
	CMPQ R11, $2
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t2a
	VMOVUPS X10, (AX)
	VEXTRACTF128 $1, Y10, X10
	ADDQ $16, AX

out_t2a:
	TESTQ $2, R10
	JEQ  out_t2b
	VMOVLPS X10, (AX)
	VMOVHLPS X10, X10, X10
	ADDQ $8, AX

out_t2b:
	TESTQ $1, R10
	JEQ  out_t2c
	VMOVSS X10, (AX)

out_t2c:
	CMPQ R11, $3
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t3a
	VMOVUPS X11, (AX)
	VEXTRACTF128 $1, Y11, X11
	ADDQ $16, AX

out_t3a:
	TESTQ $2, R10
	JEQ  out_t3b
	VMOVLPS X11, (AX)
	VMOVHLPS X11, X11, X11
	ADDQ $8, AX

out_t3b:
	TESTQ $1, R10
	JEQ  out_t3c
	VMOVSS X11, (AX)

out_t3c:
	CMPQ R11, $4
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t4a
	VMOVUPS X12, (AX)
	VEXTRACTF128 $1, Y12, X12
	ADDQ $16, AX

out_t4a:
	TESTQ $2, R10
	JEQ  out_t4b
	VMOVLPS X12, (AX)
	VMOVHLPS X12, X12, X12
	ADDQ $8, AX

out_t4b:
	TESTQ $1, R10
	JEQ  out_t4c
	VMOVSS X12, (AX)

out_t4c:
	CMPQ R11, $5
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t5a
	VMOVUPS X13, (AX)
	VEXTRACTF128 $1, Y13, X13
	ADDQ $16, AX

out_t5a:
	TESTQ $2, R10
	JEQ  out_t5b
	VMOVLPS X13, (AX)
	VMOVHLPS X13, X13, X13
	ADDQ $8, AX

out_t5b:
	TESTQ $1, R10
	JEQ  out_t5c
	VMOVSS X13, (AX)

out_t5c:
	CMPQ R11, $6
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t6a
	VMOVUPS X14, (AX)
	VEXTRACTF128 $1, Y14, X14
	ADDQ $16, AX

out_t6a:
	TESTQ $2, R10
	JEQ  out_t6b
	VMOVLPS X14, (AX)
	VMOVHLPS X14, X14, X14
	ADDQ $8, AX

out_t6b:
	TESTQ $1, R10
	JEQ  out_t6c
	VMOVSS X14, (AX)

out_t6c:
	CMPQ R11, $7
	JLE  out_chunkdone
	ADDQ R9, R14
	MOVQ R14, AX
	TESTQ $4, R10
	JEQ  out_t7a
	VMOVUPS X15, (AX)
	VEXTRACTF128 $1, Y15, X15
	ADDQ $16, AX

out_t7a:
	TESTQ $2, R10
	JEQ  out_t7b
	VMOVLPS X15, (AX)
	VMOVHLPS X15, X15, X15
	ADDQ $8, AX

out_t7b:
	TESTQ $1, R10
	JEQ  out_t7c
	VMOVSS X15, (AX)

out_t7c:

out_chunkdone:
	ADDQ $8, R8
	JMP  out_chunk

out_done:
	VZEROUPPER
	RET
