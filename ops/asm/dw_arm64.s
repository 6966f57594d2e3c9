//go:build !purego

#include "textflag.h"

// The NEON 3×3 depthwise convolution of dw_arm64.go (Go version
// depthwisePlanesGo): dw3x3RowNEON computes groups of four outputs of
// one output row from its three input rows, the nine weights broadcast
// in V16..V24, the taps added in the order of the definition (input row
// by input row, left to right) into V12. A group's nine multiply-adds
// form one chain; the groups are independent, so the core overlaps them.

// TAPS9 sums the nine taps of a group (row i's at columns c, c+1, c+2
// in V(4i), V(4i+1), V(4i+2)) times the weights into V12, in the order of
// the definition, and stores the four outputs.
#define TAPS9 \
	VEOR V12.B16, V12.B16, V12.B16 \
	VFMLA V16.S4, V0.S4, V12.S4 \
	VFMLA V17.S4, V1.S4, V12.S4 \
	VFMLA V18.S4, V2.S4, V12.S4 \
	VFMLA V19.S4, V4.S4, V12.S4 \
	VFMLA V20.S4, V5.S4, V12.S4 \
	VFMLA V21.S4, V6.S4, V12.S4 \
	VFMLA V22.S4, V8.S4, V12.S4 \
	VFMLA V23.S4, V9.S4, V12.S4 \
	VFMLA V24.S4, V10.S4, V12.S4 \
	VST1.P [V12.S4], 16(R0)

// func dw3x3RowNEON(o *float32, r0 *float32, r1 *float32, r2 *float32, w *float32, groups int, stride int)
TEXT ·dw3x3RowNEON(SB), NOSPLIT, $0-56
	MOVD o+0(FP), R0
	MOVD r0+8(FP), R1
	MOVD r1+16(FP), R2
	MOVD r2+24(FP), R3
	MOVD w+32(FP), R4
	MOVD groups+40(FP), R5
	MOVD stride+48(FP), R6
	VLD1R.P 4(R4), [V16.S4]
	VLD1R.P 4(R4), [V17.S4]
	VLD1R.P 4(R4), [V18.S4]
	VLD1R.P 4(R4), [V19.S4]
	VLD1R.P 4(R4), [V20.S4]
	VLD1R.P 4(R4), [V21.S4]
	VLD1R.P 4(R4), [V22.S4]
	VLD1R.P 4(R4), [V23.S4]
	VLD1R (R4), [V24.S4]
	CBZ R5, done
	CMP $1, R6
	BNE s2

	// Stride 1: the taps of input row i at columns c, c+1, c+2 are
	// three unaligned loads, 16 bytes on for the next group.
	ADD $4, R1, R7
	ADD $8, R1, R8
	ADD $4, R2, R9
	ADD $8, R2, R10
	ADD $4, R3, R11
	ADD $8, R3, R12

s1loop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R7), [V1.S4]
	VLD1.P 16(R8), [V2.S4]
	VLD1.P 16(R2), [V4.S4]
	VLD1.P 16(R9), [V5.S4]
	VLD1.P 16(R10), [V6.S4]
	VLD1.P 16(R3), [V8.S4]
	VLD1.P 16(R11), [V9.S4]
	VLD1.P 16(R12), [V10.S4]
	TAPS9
	SUBS $1, R5, R5
	BNE s1loop
	RET

	// Stride 2: a de-interleaving load at column c gives the taps at
	// c and c+1 of the four outputs (even and odd columns), one at c+2
	// the taps at c+2; 32 bytes on for the next group.
s2:
	ADD $8, R1, R7
	ADD $8, R2, R9
	ADD $8, R3, R11

s2loop:
	VLD2.P 32(R1), [V0.S4, V1.S4]
	VLD2.P 32(R7), [V2.S4, V3.S4]
	VLD2.P 32(R2), [V4.S4, V5.S4]
	VLD2.P 32(R9), [V6.S4, V7.S4]
	VLD2.P 32(R3), [V8.S4, V9.S4]
	VLD2.P 32(R11), [V10.S4, V11.S4]
	TAPS9
	SUBS $1, R5, R5
	BNE s2loop
	RET

done:
	RET
