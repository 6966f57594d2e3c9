package ops

import (
	"fmt"
	"math"
	"sort"

	"github.com/onyxrt/onyx/tensor"
)

// NonMaxSuppression (opsets 10 and 11, same signature).
//
// boxes [batches, boxes, 4], scores [batches, classes, boxes]; optional
// scalar inputs max_output_boxes_per_class (int64, default 0: no output),
// iou_threshold (float, default 0, must lie in [0, 1]) and score_threshold
// (float; when given, only scores strictly above it are candidates).
// The output [selected, 3] int64 lists (batch, class, box) triples ordered
// as ONNX Runtime orders them: by batch, then class, then in selection
// order (score descending, equal scores by ascending box index). IoU is
// computed in float32 exactly as ONNX Runtime does, and a box is
// suppressed when its IoU with an already selected box exceeds the
// threshold.

func buildNMS(b *Builder) (Kernel, error) {
	center := b.Int("center_point_box", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if center != 0 && center != 1 {
		return nil, fmt.Errorf("center_point_box must be 0 or 1, got %d", center)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		return rc.one(nonMaxSuppression(rc, in, center == 1))
	}), nil
}

// nmsFloat32s returns a float tensor's data as float32.
func nmsFloat32s(t *tensor.Tensor, what string) ([]float32, error) {
	if !t.DType().IsFloat() {
		return nil, ErrDType(what, t.DType())
	}
	if s := t.Float32s(); s != nil {
		return s, nil
	}
	f := t.Float64s()
	out := make([]float32, len(f))
	for i, v := range f {
		out[i] = float32(v)
	}
	return out, nil
}

// nmsScalar reads a one-element input (rank 0 or [1]).
func nmsScalar(t *tensor.Tensor, what string) (float64, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s must hold one value, got shape %v", what, t.Shape())
	}
	if t.DType() == tensor.String || t.DType() == tensor.Bool {
		return 0, ErrDType(what, t.DType())
	}
	return t.Float64s()[0], nil
}

func nonMaxSuppression(rc *RunContext, in []*tensor.Tensor, center bool) (*tensor.Tensor, error) {
	boxesT, scoresT := in[0], in[1]
	bs, ss := boxesT.Shape(), scoresT.Shape()
	if len(bs) != 3 || bs[2] != 4 {
		return nil, fmt.Errorf("boxes must have shape [batches, boxes, 4], got %v", bs)
	}
	if len(ss) != 3 {
		return nil, fmt.Errorf("scores must have shape [batches, classes, boxes], got %v", ss)
	}
	if bs[0] != ss[0] || bs[1] != ss[2] {
		return nil, fmt.Errorf("boxes %v and scores %v do not agree on batches and boxes", bs, ss)
	}
	boxes, err := nmsFloat32s(boxesT, "boxes")
	if err != nil {
		return nil, err
	}
	scores, err := nmsFloat32s(scoresT, "scores")
	if err != nil {
		return nil, err
	}
	var maxOut int64
	if t := Opt(in, 2); t != nil {
		if t.DType() != tensor.Int64 && t.DType() != tensor.Int32 {
			return nil, ErrDType("max_output_boxes_per_class", t.DType())
		}
		v, err := t.AsInt64s()
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("max_output_boxes_per_class must hold one value, got shape %v", t.Shape())
		}
		maxOut = max(v[0], 0)
	}
	var iou float32
	if t := Opt(in, 3); t != nil {
		v, err := nmsScalar(t, "iou_threshold")
		if err != nil {
			return nil, err
		}
		iou = float32(v)
		if !(iou >= 0 && iou <= 1) {
			return nil, fmt.Errorf("iou_threshold must be in [0, 1], got %v", v)
		}
	}
	scoreT := Opt(in, 4)
	var scoreMin float32
	if scoreT != nil {
		v, err := nmsScalar(scoreT, "score_threshold")
		if err != nil {
			return nil, err
		}
		scoreMin = float32(v)
	}

	nb, nc, n := ss[0], ss[1], ss[2]
	var sel []int64
	if maxOut > 0 {
		cand := make([]int, 0, n)
		var kept []int
		for bi := 0; bi < nb; bi++ {
			if err := rc.Err(); err != nil {
				return nil, err
			}
			bx := boxes[bi*n*4 : (bi+1)*n*4]
			for ci := 0; ci < nc; ci++ {
				sc := scores[(bi*nc+ci)*n : (bi*nc+ci+1)*n]
				cand = cand[:0]
				for i, s := range sc {
					if scoreT == nil || s > scoreMin {
						cand = append(cand, i)
					}
				}
				// Score descending; equal scores keep box order. NaN
				// scores sort last.
				sort.SliceStable(cand, func(i, j int) bool {
					a, b := sc[cand[i]], sc[cand[j]]
					return a > b || (!math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
				})
				kept = kept[:0]
				for _, i := range cand {
					if int64(len(kept)) >= maxOut {
						break
					}
					ok := true
					for _, k := range kept {
						if nmsSuppress(bx[4*k:4*k+4], bx[4*i:4*i+4], center, iou) {
							ok = false
							break
						}
					}
					if ok {
						kept = append(kept, i)
						sel = append(sel, int64(bi), int64(ci), int64(i))
					}
				}
			}
		}
	}
	if sel == nil {
		sel = []int64{}
	}
	return tensor.FromSlice([]int{len(sel) / 3, 3}, sel)
}

// nmsMinMax returns (min, max) of a and b.
func nmsMinMax(a, b float32) (float32, float32) {
	if a >= b {
		return b, a
	}
	return a, b
}

// nmsSuppress reports whether box q is suppressed by the selected box p:
// their IoU exceeds thr. Boxes are [y1, x1, y2, x2] (corners in any order)
// or, when center, [x_center, y_center, width, height].
func nmsSuppress(p, q []float32, center bool, thr float32) bool {
	var x1min, x1max, y1min, y1max, x2min, x2max, y2min, y2max float32
	if !center {
		x1min, x1max = nmsMinMax(p[1], p[3])
		x2min, x2max = nmsMinMax(q[1], q[3])
		y1min, y1max = nmsMinMax(p[0], p[2])
		y2min, y2max = nmsMinMax(q[0], q[2])
	} else {
		w1, h1, w2, h2 := p[2]/2, p[3]/2, q[2]/2, q[3]/2
		x1min, x1max = p[0]-w1, p[0]+w1
		x2min, x2max = q[0]-w2, q[0]+w2
		y1min, y1max = p[1]-h1, p[1]+h1
		y2min, y2max = q[1]-h2, q[1]+h2
	}
	ixmin, ixmax := max(x1min, x2min), min(x1max, x2max)
	if ixmax <= ixmin {
		return false
	}
	iymin, iymax := max(y1min, y2min), min(y1max, y2max)
	if iymax <= iymin {
		return false
	}
	inter := (ixmax - ixmin) * (iymax - iymin)
	if inter <= 0 {
		return false
	}
	a1 := (x1max - x1min) * (y1max - y1min)
	a2 := (x2max - x2min) * (y2max - y2min)
	union := a1 + a2 - inter
	if a1 <= 0 || a2 <= 0 || union <= 0 {
		return false
	}
	return inter/union > thr
}

func inferNMS(b *Builder, in []Meta) ([]Meta, error) {
	return []Meta{{DType: tensor.Int64, Shape: tensor.SymShape{unknownDim, {Size: 3}}}}, nil
}
