package data

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// arraySet holds inputs and labels as in-memory tensors with the examples
// along the first axis (float32 or int64 each) and gathers rows per batch.
type arraySet struct {
	x, y    *tensor.Tensor
	classes []string
}

func (s *arraySet) Len() int { return s.x.Shape()[0] }

func (s *arraySet) Classes() []string { return s.classes }

func (s *arraySet) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	if err := checkIndices(idx, s.Len()); err != nil {
		return nil, err
	}
	x, err := gather(s.x, idx)
	if err != nil {
		return nil, err
	}
	y, err := gather(s.y, idx)
	if err != nil {
		return nil, err
	}
	return map[string]*tensor.Tensor{Input: x, Label: y}, nil
}

// gather stacks rows idx of t (rows along the first axis).
func gather(t *tensor.Tensor, idx []int) (*tensor.Tensor, error) {
	shape := append([]int{len(idx)}, t.Shape()[1:]...)
	per := 1
	for _, d := range shape[1:] {
		per *= d
	}
	switch v := t.Data().(type) {
	case []float32:
		return tensor.FromSlice(shape, gatherRows(v, per, idx))
	case []int64:
		return tensor.FromSlice(shape, gatherRows(v, per, idx))
	}
	return nil, fmt.Errorf("internal: gather of %v", t.DType())
}

func gatherRows[T any](v []T, per int, idx []int) []T {
	out := make([]T, len(idx)*per)
	for i, j := range idx {
		copy(out[i*per:(i+1)*per], v[j*per:(j+1)*per])
	}
	return out
}

// newArraySet makes a data set of inputs x and labels y ([N,...] each):
// float inputs become float32, integer and bool ones int64 (token ids), and
// uint8 arrays of rank 3 ([N,H,W]) or 4 (NHWC, or NCHW when the second axis
// has 1 or 3 entries and the last does not) are images, scaled and laid out
// like the other image sets. Integer labels become int64, float ones
// float32. Options.Seed and Limit select the examples.
func newArraySet(x, y *tensor.Tensor, opts Options) (Dataset, error) {
	if x.Rank() == 0 || y.Rank() == 0 {
		return nil, fmt.Errorf("inputs %v and labels %v must have an example axis", x.Shape(), y.Shape())
	}
	n := x.Shape()[0]
	if y.Shape()[0] != n {
		return nil, fmt.Errorf("%d inputs but %d labels", n, y.Shape()[0])
	}
	keep := selectOrder(n, opts)
	if x.DType() == tensor.Uint8 && (x.Rank() == 3 || x.Rank() == 4) {
		return uint8Images(x, y, keep, opts)
	}
	xs, err := toTrainType(x)
	if err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	ys, err := toTrainType(y)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if xs, err = gather(xs, keep); err != nil {
		return nil, err
	}
	if ys, err = gather(ys, keep); err != nil {
		return nil, err
	}
	return &arraySet{x: xs, y: ys}, nil
}

// toTrainType casts floats to float32 and integers/bools to int64.
func toTrainType(t *tensor.Tensor) (*tensor.Tensor, error) {
	dt := t.DType()
	switch {
	case dt == tensor.Float32 || dt == tensor.Int64:
		return t, nil
	case dt.IsFloat():
		return t.Cast(tensor.Float32)
	case dt.IsInt() || dt == tensor.Bool:
		return t.Cast(tensor.Int64)
	}
	return nil, fmt.Errorf("unsupported dtype %v", dt)
}

func uint8Images(x, y *tensor.Tensor, keep []int, opts Options) (Dataset, error) {
	s := x.Shape()
	h, w, c := s[1], s[2], 1
	nchw := false
	if len(s) == 4 {
		c = s[3]
		if (s[1] == 1 || s[1] == 3) && s[3] != 1 && s[3] != 3 {
			nchw = true
			c, h, w = s[1], s[2], s[3]
		}
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("uint8 image array of shape %v has %d channels (want 1 or 3)", s, c)
	}
	src := x.Data().([]uint8)
	per := h * w * c
	pix := make([]uint8, len(keep)*per)
	for i, j := range keep {
		img := src[j*per : (j+1)*per]
		dst := pix[i*per : (i+1)*per]
		if !nchw {
			copy(dst, img)
			continue
		}
		for ch := 0; ch < c; ch++ {
			for k := 0; k < h*w; k++ {
				dst[k*c+ch] = img[ch*h*w+k]
			}
		}
	}
	ys, err := toTrainType(y)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if ys.DType() != tensor.Int64 || ys.Rank() != 1 {
		return nil, fmt.Errorf("image labels must be integers of shape [N], not %v %v", y.DType(), y.Shape())
	}
	labels := gatherRows(ys.Int64s(), 1, keep)
	return newImageSet(pix, len(keep), h, w, c, labels, nil, opts)
}

// arrayKeys are the (input, label) names looked for, split substituted for
// %s (the split-free names only when split is empty).
var arrayKeys = [][2]string{{"x_%s", "y_%s"}, {"input_%s", "label_%s"}, {"inputs_%s", "labels_%s"}}
var arrayKeysNoSplit = [][2]string{{"x", "y"}, {"input", "label"}, {"inputs", "labels"}}

func pickArrays(have []string, split string) (string, string, error) {
	lower := map[string]string{}
	for _, k := range have {
		lower[strings.ToLower(k)] = k
	}
	pairs := arrayKeysNoSplit
	if split != "" && split != "all" {
		pairs = nil
		for _, p := range arrayKeys {
			pairs = append(pairs, [2]string{fmt.Sprintf(p[0], split), fmt.Sprintf(p[1], split)})
		}
	}
	for _, p := range pairs {
		x, okx := lower[p[0]]
		y, oky := lower[p[1]]
		if okx && oky {
			return x, y, nil
		}
	}
	sort.Strings(have)
	var want []string
	for _, p := range pairs {
		want = append(want, p[0]+"/"+p[1])
	}
	return "", "", fmt.Errorf("no arrays %s for split %q (have %s)", strings.Join(want, " or "), split, strings.Join(have, ", "))
}

// openNPZ reads a .npz archive; see pickArrays for the array names.
func openNPZ(name, split string, opts Options) (Dataset, error) {
	arrays, err := ReadNPZ(name)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		keys = append(keys, k)
	}
	kx, ky, err := pickArrays(keys, strings.ToLower(split))
	if err != nil {
		return nil, err
	}
	return newArraySet(arrays[kx], arrays[ky], opts)
}

// openNPY reads inputs and labels from two .npy files: "X.npy,Y.npy", or a
// directory holding them under the names pickArrays looks for.
func openNPY(p, split string, opts Options) (Dataset, error) {
	var fx, fy string
	if a, b, ok := strings.Cut(p, ","); ok {
		fx, fy = a, b
	} else {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var have []string
		for _, e := range ents {
			if k, ok := strings.CutSuffix(e.Name(), ".npy"); ok && !e.IsDir() {
				have = append(have, k)
			}
		}
		kx, ky, err := pickArrays(have, strings.ToLower(split))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		fx, fy = filepath.Join(p, kx+".npy"), filepath.Join(p, ky+".npy")
	}
	x, err := readNPYFile(fx)
	if err != nil {
		return nil, err
	}
	y, err := readNPYFile(fy)
	if err != nil {
		return nil, err
	}
	return newArraySet(x, y, opts)
}

func readNPYFile(name string) (*tensor.Tensor, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadNPY(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}
