//go:build !amd64 || purego

package asm

// skipKernelsFor returns the kernels for SgemmSkip that give what im
// gives, bit for bit: none here yet (the generic and NEON tiles sum in
// orders no skipping kernel mirrors), so SgemmSkip declines.
func skipKernelsFor(im *sgemmImpl) *skipKernels { return nil }
