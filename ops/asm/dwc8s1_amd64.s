//go:build !purego

#include "textflag.h"

// dwc8ComputeS1: the compute step of the channel-interleaved 3×3
// depthwise convolution (dwc8_amd64.go) at stride 1, by groups of four
// outputs of one row: each of the six P positions of a tap row that the
// group reads is loaded once and used by up to three outputs, half the
// loads of dwc8Compute (whose every FMA loads its operand), which bound
// it. A row's last group computes all four outputs: those past the row
// end go to the next row's first positions of O, which that row
// overwrites afterwards, or past the last row into O's room; P has rows
// enough past the last for their reads (c8Layout).
//
// Registers: the weights of tap t in Yt (Y0..Y8), sums in Y9..Y12, Y13
// the P vector, Y14 and Y15 lo and hi (clamp) or alpha and scratch
// (leaky); AX, R8, R11 = the P position of the group's first output in
// tap rows 0, 1, 2; R12 = bytes per P row, BX = the group's O position,
// R10 = the bias vector, R9 = outputs left in the row, SI / DI = the P /
// O row of the output row, CX = rows left, R13 / R14 = bytes per P / O
// row.

// Offsets of the dwc8Args fields (as in dwc8_amd64.s).
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

// S1ROW(r, w0, w1, w2): the taps of one tap row (weights w0, w1, w2) for
// the four outputs, from the six P positions at r: position c feeds
// output k with weight w(c-k).
#define S1ROW(r, w0, w1, w2) \
	VMOVUPS     0(r), Y13    \
	VFMADD231PS Y13, w0, Y9  \
	VMOVUPS     32(r), Y13   \
	VFMADD231PS Y13, w1, Y9  \
	VFMADD231PS Y13, w0, Y10 \
	VMOVUPS     64(r), Y13   \
	VFMADD231PS Y13, w2, Y9  \
	VFMADD231PS Y13, w1, Y10 \
	VFMADD231PS Y13, w0, Y11 \
	VMOVUPS     96(r), Y13   \
	VFMADD231PS Y13, w2, Y10 \
	VFMADD231PS Y13, w1, Y11 \
	VFMADD231PS Y13, w0, Y12 \
	VMOVUPS     128(r), Y13  \
	VFMADD231PS Y13, w2, Y11 \
	VFMADD231PS Y13, w1, Y12 \
	VMOVUPS     160(r), Y13  \
	VFMADD231PS Y13, w2, Y12

// S1SUMS: the four sums of the group at AX.
#define S1SUMS \
	VMOVUPS (R10), Y9            \
	VMOVUPS (R10), Y10           \
	VMOVUPS (R10), Y11           \
	VMOVUPS (R10), Y12           \
	LEAQ    (AX)(R12*1), R8      \
	LEAQ    (AX)(R12*2), R11     \
	S1ROW(AX, Y0, Y1, Y2)        \
	S1ROW(R8, Y3, Y4, Y5)        \
	S1ROW(R11, Y6, Y7, Y8)

// S1STORE: the four outputs to O, then the next group (jumping to grp
// while the row has outputs left) or the next row.
#define S1STORE(grp) \
	VMOVUPS Y9, 0(BX)   \
	VMOVUPS Y10, 32(BX) \
	VMOVUPS Y11, 64(BX) \
	VMOVUPS Y12, 96(BX) \
	ADDQ    $128, AX    \
	ADDQ    $128, BX    \
	SUBQ    $4, R9      \
	JGT     grp         \
	ADDQ    R13, SI     \
	ADDQ    R14, DI     \
	DECQ    CX

// func dwc8ComputeS1(a *dwc8Args)
//
// O[y·ow + x][k] = act(bias[k] + Σi,j P[(y+i)·wp + x+j][k]·wv[3i+j][k])
// for the oh·ow positions (see dwc8Compute) at stride 1.
TEXT ·dwc8ComputeS1(SB), NOSPLIT, $0-8
	MOVQ    a+0(FP), DX
	MOVQ    C_WV(DX), R11
	VMOVUPS 0(R11), Y0
	VMOVUPS 32(R11), Y1
	VMOVUPS 64(R11), Y2
	VMOVUPS 96(R11), Y3
	VMOVUPS 128(R11), Y4
	VMOVUPS 160(R11), Y5
	VMOVUPS 192(R11), Y6
	VMOVUPS 224(R11), Y7
	VMOVUPS 256(R11), Y8
	VMOVUPS C_LO(DX), Y14
	VMOVUPS C_HI(DX), Y15
	MOVQ    C_BIAS(DX), R10
	MOVQ    C_O(DX), DI
	MOVQ    C_P(DX), SI
	MOVQ    C_WP(DX), R12
	SHLQ    $5, R12
	MOVQ    R12, R13
	MOVQ    C_OW(DX), R14
	SHLQ    $5, R14
	MOVQ    C_OH(DX), CX
	TESTQ   CX, CX
	JLE     s1_done
	CMPQ    C_OW(DX), $0
	JLE     s1_done
	CMPQ    C_MODE(DX), $0
	JNE     l_row

c_row:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ C_OW(DX), R9

c_grp:
	S1SUMS
	// The clamp (the sum second, so that a NaN passes through).
	VMAXPS Y9, Y14, Y9
	VMAXPS Y10, Y14, Y10
	VMAXPS Y11, Y14, Y11
	VMAXPS Y12, Y14, Y12
	VMINPS Y9, Y15, Y9
	VMINPS Y10, Y15, Y10
	VMINPS Y11, Y15, Y11
	VMINPS Y12, Y15, Y12
	S1STORE(c_grp)
	JNE    c_row
	JMP    s1_done

l_row:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ C_OW(DX), R9

l_grp:
	S1SUMS
	// Leaky: lanes whose sign is set take alpha·x (alpha in Y14).
	VMULPS    Y14, Y9, Y15
	VBLENDVPS Y9, Y15, Y9, Y9
	VMULPS    Y14, Y10, Y15
	VBLENDVPS Y10, Y15, Y10, Y10
	VMULPS    Y14, Y11, Y15
	VBLENDVPS Y11, Y15, Y11, Y11
	VMULPS    Y14, Y12, Y15
	VBLENDVPS Y12, Y15, Y12, Y12
	S1STORE(l_grp)
	JNE       l_row

s1_done:
	VZEROUPPER
	RET
