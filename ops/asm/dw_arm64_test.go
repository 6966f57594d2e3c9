//go:build !purego

package asm

// archDepthwiseImpls is the NEON path of DepthwisePlanes, called directly.
func archDepthwiseImpls() []dwImpl {
	if !neonKernels {
		return nil
	}
	return []dwImpl{{"neon", depthwisePlanesNEON}}
}
