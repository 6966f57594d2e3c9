package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// This file registers the vision operators: NonMaxSuppression (nms.go),
// GridSample and AffineGrid (gridsample.go), Col2Im (col2im.go),
// CenterCropPad (centercrop.go) and GroupNormalization (groupnorm.go).
// RoiAlign and MaxUnpool belong to the NN family (pool.go).

func registerVision(r *Registry) {
	for _, v := range []int{10, 11} {
		r.Register(&Def{Name: "NonMaxSuppression", Since: v, Build: buildNMS, Infer: inferNMS})
	}
	for _, v := range []int{16, 20} {
		r.Register(&Def{Name: "GridSample", Since: v, Build: buildGridSample, Infer: inferGridSample})
	}
	r.Register(
		&Def{Name: "AffineGrid", Since: 20, Build: buildAffineGrid, Infer: inferAffineGrid},
		&Def{Name: "Col2Im", Since: 18, Build: buildCol2Im, Infer: inferCol2Im},
		&Def{Name: "CenterCropPad", Since: 18, Build: buildCenterCropPad, Infer: inferCenterCropPad},
		&Def{Name: "ImageDecoder", Since: 20, Build: buildImageDecoder, Grad: NotDifferentiable},
	)
	for _, v := range []int{18, 21} {
		r.Register(&Def{Name: "GroupNormalization", Since: v, Build: buildGroupNorm, Infer: inferSameAsFirst})
	}
}

// visCheckSize fails when a tensor of shape with elements of elemSize
// bytes would be negative, overflow or exceed tensor.MaxBytes, so kernels
// can allocate their output with make.
func visCheckSize(shape []int, elemSize int) error {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return err
	}
	if elemSize < 1 {
		elemSize = 16
	}
	if n > tensor.MaxBytes/elemSize {
		return fmt.Errorf("output shape %v: %w (limit %d bytes)", shape, tensor.ErrTooLarge, tensor.MaxBytes)
	}
	return nil
}
