//go:build !purego

#include "textflag.h"

// The AVX2 3×3 depthwise convolution of dw.go (Go version
// depthwisePlanesGo).

// dwMask<>: eight lanes set, then eight clear. The mask of the first t
// lanes of a vector is the 8 floats at dwMask<> + 4*(8-t).
DATA dwMask<>+0(SB)/4, $0xffffffff
DATA dwMask<>+4(SB)/4, $0xffffffff
DATA dwMask<>+8(SB)/4, $0xffffffff
DATA dwMask<>+12(SB)/4, $0xffffffff
DATA dwMask<>+16(SB)/4, $0xffffffff
DATA dwMask<>+20(SB)/4, $0xffffffff
DATA dwMask<>+24(SB)/4, $0xffffffff
DATA dwMask<>+28(SB)/4, $0xffffffff
DATA dwMask<>+32(SB)/4, $0x00000000
DATA dwMask<>+36(SB)/4, $0x00000000
DATA dwMask<>+40(SB)/4, $0x00000000
DATA dwMask<>+44(SB)/4, $0x00000000
DATA dwMask<>+48(SB)/4, $0x00000000
DATA dwMask<>+52(SB)/4, $0x00000000
DATA dwMask<>+56(SB)/4, $0x00000000
DATA dwMask<>+60(SB)/4, $0x00000000
GLOBL dwMask<>(SB), RODATA|NOPTR, $64

// Offsets of the dwArgs fields.
#define A_DST 0
#define A_SRC 8
#define A_W 16
#define A_BIAS 24
#define A_ZERO 32
#define A_SINK 40
#define A_MASKS 48
#define A_PLANES 56
#define A_H 64
#define A_WD 72
#define A_OH 80
#define A_OW 88
#define A_PT 96
#define A_PL 104
#define A_STRIDE 112
#define A_MODE 120
#define A_XL 128
#define A_XR 136
#define A_XLAST 144
#define A_LO 152
#define A_HI 156
#define A_ALPHA 160
#define A_SAFELO 168
#define A_SAFEHI 176

// Locals (offsets from the hardware SP).
#define L_PLANES 0
#define L_PLANE 8
#define L_WPTR 16
#define L_BIAS 24
#define L_DSTEND 32
#define L_IY0 40
#define L_ROWS 48
#define L_RB 56
#define L_WB 64
#define L_OWB 72
#define L_BIASV 96
#define L_ACT1 128
#define L_ACT2 160

// Registers: weights in Y0..Y8 (Y(3i+j) is tap i, j), sums in Y12 and
// Y13 and partial sums in Y9 and Y10 (the chains of dependent FMAs are at
// most five long), Y14 and Y15 scratch; the bias and the activation's lo
// and hi (clamp) or alpha (leaky) are vectors on the stack (L_BIASV,
// L_ACT1, L_ACT2). SI, R10, R11 (and R14) point at the input rows of the
// output row (pair), at their column -PadL, or at the row of zeros; R13
// is 1 when plain loads from those rows cannot leave src; R8 is the
// output column, R9 the masks of its vector; DI (and BX) the output
// row(s); DX = OW; R12 the mask of the OW%8 tail of an output row; R15
// the arguments.

// Stride 1: two output rows (Y12 + Y9, Y13 + Y10) from four input rows.
// LD(r, off) loads the input vector at column R8 + off/4 of row r into
// Y14; LDM does it with the mask of tap off/4 (at 8·off(R9)), loading
// only the lanes inside the plane; LDA loads all the lanes (which must be
// inside src: R13 says so for the rows of a pair) and clears those
// outside the plane with the mask.
#define LD(r, off) \
	VMOVUPS off(r)(R8*4), Y14

#define LDA(r, off) \
	VMOVUPS off(r)(R8*4), Y14     \
	VANDPS  (8*off)(R9), Y14, Y14

#define LDM(r, off) \
	VMOVUPS    (8*off)(R9), Y15      \
	VMASKMOVPS off(r)(R8*4), Y15, Y14

// S1PAIR(load): the two sums, with the loads made by load.
#define S1PAIR(load) \
	VMOVUPS     L_BIASV(SP), Y12 \
	VMOVAPS     Y12, Y13         \
	load(SI, 0)                  \
	VFMADD231PS Y14, Y0, Y12     \
	load(SI, 4)                  \
	VFMADD231PS Y14, Y1, Y12     \
	load(SI, 8)                  \
	VFMADD231PS Y14, Y2, Y12     \
	load(R10, 0)                 \
	VMULPS      Y14, Y3, Y9      \
	VFMADD231PS Y14, Y0, Y13     \
	load(R10, 4)                 \
	VFMADD231PS Y14, Y4, Y9      \
	VFMADD231PS Y14, Y1, Y13     \
	load(R10, 8)                 \
	VFMADD231PS Y14, Y5, Y9      \
	VFMADD231PS Y14, Y2, Y13     \
	load(R11, 0)                 \
	VFMADD231PS Y14, Y6, Y12     \
	VMULPS      Y14, Y3, Y10     \
	load(R11, 4)                 \
	VFMADD231PS Y14, Y7, Y9      \
	VFMADD231PS Y14, Y4, Y10     \
	load(R11, 8)                 \
	VFMADD231PS Y14, Y8, Y12     \
	VFMADD231PS Y14, Y5, Y10     \
	load(R14, 0)                 \
	VFMADD231PS Y14, Y6, Y13     \
	load(R14, 4)                 \
	VFMADD231PS Y14, Y7, Y10     \
	load(R14, 8)                 \
	VFMADD231PS Y14, Y8, Y13     \
	VADDPS      Y9, Y12, Y12     \
	VADDPS      Y10, Y13, Y13

// Stride 2, one output row (Y12 + Y9 + Y10, a sum per input row).
// S2ROW(r, w0, w1, w2, acc): the three taps of input row r, the outputs
// in the lane order 0 1 4 5 2 3 6 7 (fixed once by the caller).
#define S2ROW(r, w0, w1, w2, acc) \
	VMOVUPS     (r)(R8*8), Y13                \
	VSHUFPS     $0x88, 32(r)(R8*8), Y13, Y14  \
	VSHUFPS     $0xDD, 32(r)(R8*8), Y13, Y15  \
	VFMADD231PS Y14, w0, acc                  \
	VFMADD231PS Y15, w1, acc                  \
	VMOVUPS     8(r)(R8*8), Y13               \
	VSHUFPS     $0x88, 40(r)(R8*8), Y13, Y14  \
	VFMADD231PS Y14, w2, acc

// The same with masked loads: the masks of the loads of columns 0-7,
// 8-15, 2-9 and 10-17 at 0, 32, 64 and 96(R9); S2ROWA loads all the
// lanes and clears those outside the plane.
#define S2ROWA(r, w0, w1, w2, acc) \
	VMOVUPS     (r)(R8*8), Y13          \
	VANDPS      0(R9), Y13, Y13         \
	VMOVUPS     32(r)(R8*8), Y14        \
	VANDPS      32(R9), Y14, Y14        \
	VSHUFPS     $0x88, Y14, Y13, Y15    \
	VFMADD231PS Y15, w0, acc            \
	VSHUFPS     $0xDD, Y14, Y13, Y15    \
	VFMADD231PS Y15, w1, acc            \
	VMOVUPS     8(r)(R8*8), Y13         \
	VANDPS      64(R9), Y13, Y13        \
	VMOVUPS     40(r)(R8*8), Y14        \
	VANDPS      96(R9), Y14, Y14        \
	VSHUFPS     $0x88, Y14, Y13, Y15    \
	VFMADD231PS Y15, w2, acc

#define S2ROWM(r, w0, w1, w2, acc) \
	VMOVUPS     0(R9), Y15              \
	VMASKMOVPS  (r)(R8*8), Y15, Y13     \
	VMOVUPS     32(R9), Y15             \
	VMASKMOVPS  32(r)(R8*8), Y15, Y14   \
	VSHUFPS     $0x88, Y14, Y13, Y15    \
	VFMADD231PS Y15, w0, acc            \
	VSHUFPS     $0xDD, Y14, Y13, Y15    \
	VFMADD231PS Y15, w1, acc            \
	VMOVUPS     64(R9), Y15             \
	VMASKMOVPS  8(r)(R8*8), Y15, Y13    \
	VMOVUPS     96(R9), Y15             \
	VMASKMOVPS  40(r)(R8*8), Y15, Y14   \
	VSHUFPS     $0x88, Y14, Y13, Y15    \
	VFMADD231PS Y15, w2, acc

#define S2SUM(row) \
	VMOVUPS L_BIASV(SP), Y12     \
	VXORPS  Y9, Y9, Y9           \
	VXORPS  Y10, Y10, Y10        \
	row(SI, Y0, Y1, Y2, Y12)     \
	row(R10, Y3, Y4, Y5, Y9)     \
	row(R11, Y6, Y7, Y8, Y10)    \
	VADDPS  Y9, Y12, Y12         \
	VADDPS  Y10, Y12, Y12        \
	VPERMPD $0xD8, Y12, Y12

// Activations of acc; the source operand comes second so that a NaN
// passes through.
#define DWCLAMP(acc) \
	VMOVUPS L_ACT1(SP), Y14 \
	VMAXPS  acc, Y14, acc   \
	VMOVUPS L_ACT2(SP), Y14 \
	VMINPS  acc, Y14, acc

#define DWLEAKY(acc) \
	VXORPS    Y15, Y15, Y15      \
	VCMPPS    $1, Y15, acc, Y14  \
	VMULPS    L_ACT1(SP), acc, Y15 \
	VBLENDVPS Y14, Y15, acc, acc

// ROWPTR(reg): reg = CX (the row at column -PadL) when AX (its row
// index) is in [0, H), else the row of zeros.
#define ROWPTR(reg) \
	MOVQ    A_ZERO(R15), reg \
	CMPQ    AX, A_H(R15)     \
	CMOVQCS CX, reg

// STOREFULL(acc, out, lbl) stores the vector at column R8 of output
// row out, jumping to lbl when it is the tail vector (R8+8 > OW) and a
// full store would pass the end of dst. Otherwise a tail vector spills
// into the next output row, which is written later (the vectors go right
// to left).
#define STOREFULL(acc, out, lbl) \
	LEAQ    32(out)(R8*4), AX \
	CMPQ    AX, L_DSTEND(SP)  \
	JHI     lbl               \
	VMOVUPS acc, (out)(R8*4)

// STOREMASK(acc, out) stores the first OW%8 lanes of the vector.
#define STOREMASK(acc, out) \
	VMOVUPS    (R12), Y15 \
	VMASKMOVPS acc, Y15, (out)(R8*4)

// func dwConv3x3AVX2(a *dwArgs)
TEXT ·dwConv3x3AVX2(SB), NOSPLIT, $192-8
	// The mask first: R15 must hold no live value across an access to a
	// global (dynamic linking clobbers it there).
	MOVQ a+0(FP), BX
	MOVQ A_OW(BX), R13
	ANDQ $7, R13
	NEGQ R13
	LEAQ dwMask<>(SB), R12
	LEAQ 32(R12)(R13*4), R12
	MOVQ BX, R15

	MOVQ  A_PLANES(R15), AX
	TESTQ AX, AX
	JLE   dw_done
	MOVQ  AX, L_PLANES(SP)
	MOVQ  A_SRC(R15), AX
	MOVQ  AX, L_PLANE(SP)
	MOVQ  A_W(R15), AX
	MOVQ  AX, L_WPTR(SP)
	MOVQ  A_BIAS(R15), AX
	MOVQ  AX, L_BIAS(SP)
	MOVQ  A_WD(R15), AX
	SHLQ  $2, AX
	MOVQ  AX, L_WB(SP)
	MOVQ  A_OW(R15), DX
	LEAQ  (DX*4), AX
	MOVQ  AX, L_OWB(SP)
	MOVQ  A_DST(R15), DI
	MOVQ  A_OH(R15), AX
	IMULQ DX, AX
	IMULQ A_PLANES(R15), AX
	LEAQ  (DI)(AX*4), AX
	MOVQ  AX, L_DSTEND(SP)

	// The activation's vectors.
	CMPQ A_MODE(R15), $0
	JNE  dw_leakyregs
	VBROADCASTSS A_LO(R15), Y14
	VMOVUPS      Y14, L_ACT1(SP)
	VBROADCASTSS A_HI(R15), Y14
	VMOVUPS      Y14, L_ACT2(SP)
	JMP  dw_plane

dw_leakyregs:
	VBROADCASTSS A_ALPHA(R15), Y14
	VMOVUPS      Y14, L_ACT1(SP)

dw_plane:
	MOVQ         L_WPTR(SP), AX
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
	MOVQ         AX, L_WPTR(SP)
	MOVQ         L_BIAS(SP), AX
	TESTQ        AX, AX
	JEQ          dw_nobias
	VBROADCASTSS (AX), Y14
	ADDQ         $4, AX
	MOVQ         AX, L_BIAS(SP)
	JMP          dw_planeinit

dw_nobias:
	VXORPS Y14, Y14, Y14

dw_planeinit:
	VMOVUPS Y14, L_BIASV(SP)
	// iy0 = -PadT; the row base of input row iy0 at column -PadL.
	MOVQ  A_PT(R15), AX
	NEGQ  AX
	MOVQ  AX, L_IY0(SP)
	IMULQ A_WD(R15), AX
	SUBQ  A_PL(R15), AX
	SHLQ  $2, AX
	ADDQ  L_PLANE(SP), AX
	MOVQ  AX, L_RB(SP)
	MOVQ  A_OH(R15), AX
	MOVQ  AX, L_ROWS(SP)
	CMPQ  A_STRIDE(R15), $1
	JNE   dw_s2row

dw_s1row:
	// The four input rows of output rows iy0+PadT and the next; R13 = 1
	// when every load from rows iy0..iy0+3 (in the plane or not) is
	// inside src.
	XORQ    R13, R13
	MOVQ    $1, R9
	MOVQ    L_IY0(SP), AX
	MOVQ    L_RB(SP), CX
	CMPQ    CX, A_SAFELO(R15)
	CMOVQCC R9, R13
	ROWPTR(SI)
	INCQ    AX
	ADDQ    L_WB(SP), CX
	ROWPTR(R10)
	INCQ    AX
	ADDQ    L_WB(SP), CX
	ROWPTR(R11)
	INCQ    AX
	ADDQ    L_WB(SP), CX
	ROWPTR(R14)
	XORQ    R9, R9
	CMPQ    CX, A_SAFEHI(R15)
	CMOVQHI R9, R13
	// BX = the second output row, or the sink when there is none.
	MOVQ L_OWB(SP), BX
	ADDQ DI, BX
	CMPQ L_ROWS(SP), $1
	CMOVQEQ A_SINK(R15), BX
	MOVQ A_XLAST(R15), R8

dw_s1vec:
	CMPQ R8, A_XL(R15)
	JLT  dw_s1masked
	CMPQ R8, A_XR(R15)
	JGE  dw_s1masked
	S1PAIR(LD)
	JMP  dw_s1act

dw_s1masked:
	IMUL3Q $12, R8, R9
	ADDQ   A_MASKS(R15), R9
	TESTQ  R13, R13
	JEQ    dw_s1unsafe
	S1PAIR(LDA)
	JMP    dw_s1act

dw_s1unsafe:
	S1PAIR(LDM)

dw_s1act:
	CMPQ A_MODE(R15), $0
	JNE  dw_s1leaky
	DWCLAMP(Y12)
	DWCLAMP(Y13)
	JMP  dw_s1store

dw_s1leaky:
	DWLEAKY(Y12)
	DWLEAKY(Y13)

dw_s1store:
	STOREFULL(Y12, DI, dw_s1maska)

dw_s1storeb:
	STOREFULL(Y13, BX, dw_s1maskb)

dw_s1next:
	SUBQ $8, R8
	JGE  dw_s1vec

	// Next pair of output rows.
	MOVQ L_OWB(SP), AX
	LEAQ (DI)(AX*2), DI
	MOVQ L_WB(SP), AX
	SHLQ $1, AX
	ADDQ AX, L_RB(SP)
	ADDQ $2, L_IY0(SP)
	SUBQ $2, L_ROWS(SP)
	JGT  dw_s1row
	// An odd last row went to the sink: DI is one row past the plane.
	JEQ  dw_nextplane
	SUBQ L_OWB(SP), DI
	JMP  dw_nextplane

dw_s1maska:
	STOREMASK(Y12, DI)
	JMP dw_s1storeb

dw_s1maskb:
	STOREMASK(Y13, BX)
	JMP dw_s1next

dw_s2row:
	XORQ    R13, R13
	MOVQ    $1, R9
	MOVQ    L_IY0(SP), AX
	MOVQ    L_RB(SP), CX
	CMPQ    CX, A_SAFELO(R15)
	CMOVQCC R9, R13
	ROWPTR(SI)
	INCQ    AX
	ADDQ    L_WB(SP), CX
	ROWPTR(R10)
	INCQ    AX
	ADDQ    L_WB(SP), CX
	ROWPTR(R11)
	XORQ    R9, R9
	CMPQ    CX, A_SAFEHI(R15)
	CMOVQHI R9, R13
	MOVQ A_XLAST(R15), R8

dw_s2vec:
	CMPQ R8, A_XL(R15)
	JLT  dw_s2masked
	CMPQ R8, A_XR(R15)
	JGE  dw_s2masked
	S2SUM(S2ROW)
	JMP  dw_s2act

dw_s2masked:
	MOVQ R8, R9
	SHLQ  $4, R9
	ADDQ  A_MASKS(R15), R9
	TESTQ R13, R13
	JEQ   dw_s2unsafe
	S2SUM(S2ROWA)
	JMP   dw_s2act

dw_s2unsafe:
	S2SUM(S2ROWM)

dw_s2act:
	CMPQ A_MODE(R15), $0
	JNE  dw_s2leaky
	DWCLAMP(Y12)
	JMP  dw_s2store

dw_s2leaky:
	DWLEAKY(Y12)

dw_s2store:
	STOREFULL(Y12, DI, dw_s2mask)

dw_s2next:
	SUBQ $8, R8
	JGE  dw_s2vec

	ADDQ L_OWB(SP), DI
	MOVQ L_WB(SP), AX
	SHLQ $1, AX
	ADDQ AX, L_RB(SP)
	ADDQ $2, L_IY0(SP)
	DECQ L_ROWS(SP)
	JNE  dw_s2row
	JMP  dw_nextplane

dw_s2mask:
	STOREMASK(Y12, DI)
	JMP dw_s2next

dw_nextplane:
	MOVQ  A_H(R15), AX
	IMULQ A_WD(R15), AX
	SHLQ  $2, AX
	ADDQ  AX, L_PLANE(SP)
	DECQ  L_PLANES(SP)
	JNE   dw_plane

dw_done:
	VZEROUPPER
	RET
