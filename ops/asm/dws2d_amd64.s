//go:build !purego

#include "textflag.h"

// The stride-2 3×3 depthwise convolution on deinterleaved rows of
// dws2d.go (Go version depthwiseS2DeintGo), and DeinterleaveRows.

// dws2dFirst<>: lane 0 clear, lanes 1-7 set (odd[x−1] of the first
// vector of a row is the left padding).
DATA dws2dFirst<>+0(SB)/4, $0x00000000
DATA dws2dFirst<>+4(SB)/4, $0xffffffff
DATA dws2dFirst<>+8(SB)/4, $0xffffffff
DATA dws2dFirst<>+12(SB)/4, $0xffffffff
DATA dws2dFirst<>+16(SB)/4, $0xffffffff
DATA dws2dFirst<>+20(SB)/4, $0xffffffff
DATA dws2dFirst<>+24(SB)/4, $0xffffffff
DATA dws2dFirst<>+28(SB)/4, $0xffffffff
GLOBL dws2dFirst<>(SB), RODATA|NOPTR, $32

// dws2dTail<>: eight lanes set, then eight clear; the mask of the first
// t lanes is the 8 floats at dws2dTail<> + 4·(8−t).
DATA dws2dTail<>+0(SB)/4, $0xffffffff
DATA dws2dTail<>+4(SB)/4, $0xffffffff
DATA dws2dTail<>+8(SB)/4, $0xffffffff
DATA dws2dTail<>+12(SB)/4, $0xffffffff
DATA dws2dTail<>+16(SB)/4, $0xffffffff
DATA dws2dTail<>+20(SB)/4, $0xffffffff
DATA dws2dTail<>+24(SB)/4, $0xffffffff
DATA dws2dTail<>+28(SB)/4, $0xffffffff
DATA dws2dTail<>+32(SB)/4, $0x00000000
DATA dws2dTail<>+36(SB)/4, $0x00000000
DATA dws2dTail<>+40(SB)/4, $0x00000000
DATA dws2dTail<>+44(SB)/4, $0x00000000
DATA dws2dTail<>+48(SB)/4, $0x00000000
DATA dws2dTail<>+52(SB)/4, $0x00000000
DATA dws2dTail<>+56(SB)/4, $0x00000000
DATA dws2dTail<>+60(SB)/4, $0x00000000
GLOBL dws2dTail<>(SB), RODATA|NOPTR, $64

// Offsets of the dws2dArgs fields.
#define D_DST 0
#define D_SRC 8
#define D_W 16
#define D_BIAS 24
#define D_ZERO 32
#define D_PLANES 40
#define D_H 48
#define D_HALF 56
#define D_OH 64
#define D_PT 72
#define D_LO 80
#define D_HI 84

// Locals (offsets from the hardware SP).
#define L_P 0
#define L_W 8
#define L_B 16

// Registers: the taps in Y0..Y8 (Y(3i+j): row i, column j), the bias in
// Y9, the clamp's lo and hi in Y10 and Y11, sums in Y12 and Y13, the
// mask of the row's last OW%8 lanes in Y14 and of lanes 1-7 in Y15. SI
// is the input plane, DI the output row; R10, R11, R12 the even halves
// of the three input rows (or the row of zeros), R14, R15, R13 their odd
// halves; R8 the byte offset of the output vector in its row; CX the
// output row; DX the arguments.

// ROWPTR(r, dst): dst = the input row r of the plane if 0 ≤ r < H, else
// the row of zeros (BX scratch, R9 = bytes per input row).
#define ROWPTR(r, dst) \
	MOVQ    r, BX           \
	IMULQ   R9, BX          \
	ADDQ    SI, BX          \
	MOVQ    D_ZERO(DX), dst \
	CMPQ    r, D_H(DX)      \
	CMOVQCS BX, dst

// The clamp of acc; the source operand second so that a NaN passes
// through.
#define ACT(acc) \
	VMAXPS acc, Y10, acc \
	VMINPS acc, Y11, acc

// TAPSM(ev, od, w0, w1, w2, first): the three taps of one input row with
// loads masked by Y14 (the row's tail), odd[x−1] also by Y15 when first
// is 1.
#define TAPSM(ev, od, w0, w1, w2) \
	VMASKMOVPS  -4(od)(R8*1), Y14, Y13 \
	VFMADD231PS Y13, w0, Y12           \
	VMASKMOVPS  (ev)(R8*1), Y14, Y13   \
	VFMADD231PS Y13, w1, Y12           \
	VMASKMOVPS  (od)(R8*1), Y14, Y13   \
	VFMADD231PS Y13, w2, Y12

#define TAPSMF(ev, od, w0, w1, w2) \
	VMASKMOVPS  -4(od)(R8*1), Y14, Y13 \
	VANDPS      Y15, Y13, Y13          \
	VFMADD231PS Y13, w0, Y12           \
	VMASKMOVPS  (ev)(R8*1), Y14, Y13   \
	VFMADD231PS Y13, w1, Y12           \
	VMASKMOVPS  (od)(R8*1), Y14, Y13   \
	VFMADD231PS Y13, w2, Y12

// func dws2dAVX2(a *dws2dArgs)
TEXT ·dws2dAVX2(SB), NOSPLIT, $24-8
	MOVQ  a+0(FP), DX
	MOVQ  D_PLANES(DX), AX
	TESTQ AX, AX
	JLE   s2d_done
	MOVQ  AX, L_P(SP)
	MOVQ  D_W(DX), AX
	MOVQ  AX, L_W(SP)
	MOVQ  D_BIAS(DX), AX
	MOVQ  AX, L_B(SP)
	MOVQ  D_SRC(DX), SI
	MOVQ  D_DST(DX), DI
	VBROADCASTSS D_LO(DX), Y10
	VBROADCASTSS D_HI(DX), Y11
	VMOVUPS dws2dFirst<>(SB), Y15
	MOVQ  D_HALF(DX), AX
	ANDQ  $7, AX
	MOVQ  $8, BX
	SUBQ  AX, BX
	LEAQ  dws2dTail<>(SB), R8
	VMOVUPS (R8)(BX*4), Y14
	// R9 = bytes per input row (2·half floats).
	MOVQ  D_HALF(DX), R9
	SHLQ  $3, R9

s2d_plane:
	MOVQ         L_W(SP), AX
	VBROADCASTSS 0(AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y3
	VBROADCASTSS 16(AX), Y4
	VBROADCASTSS 20(AX), Y5
	VBROADCASTSS 24(AX), Y6
	VBROADCASTSS 28(AX), Y7
	VBROADCASTSS 32(AX), Y8
	ADDQ         $36, AX
	MOVQ         AX, L_W(SP)
	VXORPS       Y9, Y9, Y9
	MOVQ         L_B(SP), AX
	TESTQ        AX, AX
	JEQ          s2d_nobias
	VBROADCASTSS (AX), Y9
	ADDQ         $4, AX
	MOVQ         AX, L_B(SP)

s2d_nobias:
	XORQ CX, CX

s2d_row:
	// The input rows 2y − PadT + i, i < 3.
	MOVQ CX, AX
	SHLQ $1, AX
	SUBQ D_PT(DX), AX
	ROWPTR(AX, R10)
	INCQ AX
	ROWPTR(AX, R11)
	INCQ AX
	ROWPTR(AX, R12)
	MOVQ D_HALF(DX), BX
	SHLQ $2, BX
	LEAQ (R10)(BX*1), R14
	LEAQ (R11)(BX*1), R15
	LEAQ (R12)(BX*1), R13
	// AX = the bytes of the row's full vectors.
	MOVQ  D_HALF(DX), AX
	ANDQ  $-8, AX
	SHLQ  $2, AX
	XORQ  R8, R8
	TESTQ AX, AX
	JEQ   s2d_tailfirst

	// The first vector: odd[−1] is the padding.
	VMOVAPS     Y9, Y12
	VANDPS      -4(R14), Y15, Y13
	VFMADD231PS Y13, Y0, Y12
	VFMADD231PS (R10), Y1, Y12
	VFMADD231PS (R14), Y2, Y12
	VANDPS      -4(R15), Y15, Y13
	VFMADD231PS Y13, Y3, Y12
	VFMADD231PS (R11), Y4, Y12
	VFMADD231PS (R15), Y5, Y12
	VANDPS      -4(R13), Y15, Y13
	VFMADD231PS Y13, Y6, Y12
	VFMADD231PS (R12), Y7, Y12
	VFMADD231PS (R13), Y8, Y12
	ACT(Y12)
	VMOVUPS     Y12, (DI)
	MOVQ        $32, R8

s2d_full:
	CMPQ        R8, AX
	JGE         s2d_tail
	VMOVAPS     Y9, Y12
	VMULPS      -4(R15)(R8*1), Y3, Y13
	VFMADD231PS -4(R14)(R8*1), Y0, Y12
	VFMADD231PS (R11)(R8*1), Y4, Y13
	VFMADD231PS (R10)(R8*1), Y1, Y12
	VFMADD231PS (R15)(R8*1), Y5, Y13
	VFMADD231PS (R14)(R8*1), Y2, Y12
	VFMADD231PS -4(R13)(R8*1), Y6, Y13
	VFMADD231PS (R12)(R8*1), Y7, Y12
	VFMADD231PS (R13)(R8*1), Y8, Y13
	VADDPS      Y13, Y12, Y12
	ACT(Y12)
	VMOVUPS     Y12, (DI)(R8*1)
	ADDQ        $32, R8
	JMP         s2d_full

s2d_tail:
	// The last OW%8 outputs of a row of at least eight.
	MOVQ    D_HALF(DX), BX
	ANDQ    $7, BX
	JEQ     s2d_rowdone
	VMOVAPS Y9, Y12
	TAPSM(R10, R14, Y0, Y1, Y2)
	TAPSM(R11, R15, Y3, Y4, Y5)
	TAPSM(R12, R13, Y6, Y7, Y8)
	ACT(Y12)
	VMASKMOVPS Y12, Y14, (DI)(R8*1)
	JMP     s2d_rowdone

s2d_tailfirst:
	// A row of fewer than eight outputs.
	VMOVAPS Y9, Y12
	TAPSMF(R10, R14, Y0, Y1, Y2)
	TAPSMF(R11, R15, Y3, Y4, Y5)
	TAPSMF(R12, R13, Y6, Y7, Y8)
	ACT(Y12)
	VMASKMOVPS Y12, Y14, (DI)

s2d_rowdone:
	MOVQ D_HALF(DX), AX
	SHLQ $2, AX
	ADDQ AX, DI
	INCQ CX
	CMPQ CX, D_OH(DX)
	JLT  s2d_row
	// The next plane.
	MOVQ  D_H(DX), AX
	IMULQ R9, AX
	ADDQ  AX, SI
	DECQ  L_P(SP)
	JNE   s2d_plane

s2d_done:
	VZEROUPPER
	RET
