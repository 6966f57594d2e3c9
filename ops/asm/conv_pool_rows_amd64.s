//go:build !purego

#include "textflag.h"

// func sumPlaneRowsAVX512(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, scale *float32, rows *float32)
//
// SumPlaneRows (conv_pool_rows.go) in 16-lane vectors: first the sums of
// kw columns (2 or 3) of each of the (ny-1)*sh+kh input rows at every
// output column, each left to right, into rows (nv = ceil(nx/16) vectors
// a row, the lanes past nx summing whatever lies past the windows, which
// SumPlane may read); then, for each output row, the kh rows' sums top
// to bottom, times the output's factor, the last vector of a row loaded
// and stored under the mask K1 of its nx-16(nv-1) lanes. Registers: R9
// the vectors a row, R10 the bytes of a row of sums.
TEXT ·sumPlaneRowsAVX512(SB), NOSPLIT, $0-88
	MOVQ nx+16(FP), DX
	LEAQ 15(DX), R9
	SHRQ $4, R9
	MOVQ R9, R10
	SHLQ $6, R10
	// K1: the lanes of a row's last vector.
	LEAQ -1(DX), CX
	ANDQ $15, CX
	INCQ CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1

	// The rows' sums.
	MOVQ ny+24(FP), R11
	DECQ R11
	IMULQ sh+64(FP), R11
	ADDQ kh+48(FP), R11
	MOVQ src+32(FP), SI
	MOVQ lds+40(FP), R8
	SHLQ $2, R8
	MOVQ rows+80(FP), DI
	MOVQ kw+56(FP), R12

row:
	XORQ BX, BX
	MOVQ R9, CX

rowvec:
	VMOVUPS (SI)(BX*1), Z0
	VADDPS  4(SI)(BX*1), Z0, Z0
	CMPQ    R12, $3
	JNE     rowstore
	VADDPS  8(SI)(BX*1), Z0, Z0

rowstore:
	VMOVUPS Z0, (DI)(BX*1)
	ADDQ    $64, BX
	DECQ    CX
	JNE     rowvec
	ADDQ    R8, SI
	ADDQ    R10, DI
	DECQ    R11
	JNE     row

cols:
	// The windows: kh rows of sums each, sh rows apart.
	MOVQ  dst+0(FP), AX
	MOVQ  ldd+8(FP), R12
	SHLQ  $2, R12
	MOVQ  scale+72(FP), R13
	MOVQ  sh+64(FP), R14
	IMULQ R10, R14
	MOVQ  rows+80(FP), DI
	MOVQ  DX, R11
	SHLQ  $2, R11
	MOVQ  kh+48(FP), R15
	DECQ  R15
	MOVQ  ny+24(FP), R8

outrow:
	XORQ BX, BX
	LEAQ -1(R9), DX // whole vectors before the last

outvec:
	MOVQ    DI, SI
	VMOVUPS (SI)(BX*1), Z0
	MOVQ    R15, CX
	CMPQ    CX, $2
	JNE     outloop
	// kh = 3 without the loop.
	LEAQ    (SI)(BX*1), SI
	ADDQ    R10, SI
	VADDPS  (SI), Z0, Z0
	VADDPS  (SI)(R10*1), Z0, Z0
	JMP     outsum

outloop:
	TESTQ   CX, CX
	JEQ     outsum

outadd:
	ADDQ   R10, SI
	VADDPS (SI)(BX*1), Z0, Z0
	DECQ   CX
	JNE    outadd

outsum:
	TESTQ   DX, DX
	JEQ     outlast
	VMULPS  (R13)(BX*1), Z0, Z0
	VMOVUPS Z0, (AX)(BX*1)
	ADDQ    $64, BX
	DECQ    DX
	JMP     outvec

outlast:
	VMOVUPS.Z (R13)(BX*1), K1, Z1
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (AX)(BX*1)
	ADDQ      R12, AX
	ADDQ      R11, R13
	ADDQ      R14, DI
	DECQ      R8
	JNE       outrow
	VZEROUPPER
	RET
