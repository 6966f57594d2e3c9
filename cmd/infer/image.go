package main

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/tensor"
)

// maxImagePixels bounds the size of an image we decode (a guard against
// decompression bombs).
const maxImagePixels = 1 << 27

// imageOptions say how an image becomes an input tensor.
type imageOptions struct {
	layout   string // "", "nchw" or "nhwc"; "" decides from the input's shape
	scale    float64
	scaleSet bool
	mean     []float64 // per channel (or one for all), subtracted after scaling
	std      []float64 // per channel (or one for all), divided by after the mean
	h, w     int       // 0: from the model's input shape, else the image's own
}

// parseFloatList parses "0.485,0.456,0.406".
func parseFloatList(s string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out[i] = v
	}
	return out, nil
}

// parseScale parses a number or a fraction like "1/255".
func parseScale(s string) (float64, error) {
	num, den, frac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		d, err = strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err == nil && d == 0 {
			err = fmt.Errorf("division by zero")
		}
		v /= d
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a number or a fraction like 1/255, got %q", s)
	}
	return v, nil
}

// parseSize parses "HxW" (or one number for a square).
func parseSize(s string) (h, w int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	hs, ws, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		ws = hs
	}
	h, err1 := strconv.Atoi(strings.TrimSpace(hs))
	w, err2 := strconv.Atoi(strings.TrimSpace(ws))
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("want HxW with positive sizes, like 224x224, got %q", s)
	}
	return h, w, nil
}

// imageLayout is where the dimensions of an image tensor sit.
type imageLayout struct {
	rank         int // 4 (batched) or 3
	nhwc         bool
	batch        int
	channels     int
	height       int // 0 when the model leaves it open
	width        int
	cAxis, hAxis int
}

// layoutFor decides the layout from the input's declared shape: a channel
// dimension of size 1 or 3 at position 1 means NCHW, at position 3 means
// NHWC (positions 0 and 2 for unbatched rank-3 inputs). --layout
// overrides.
func layoutFor(vi graph.ValueInfo, forced string) (imageLayout, error) {
	s := vi.Type.Shape
	if vi.Type.Kind != graph.KindTensor {
		return imageLayout{}, fmt.Errorf("input %q is not a tensor (%v)", vi.Name, vi.Type)
	}
	if s == nil {
		// No declared shape: a batched image in the requested layout.
		s = tensor.SymShape{{Size: -1}, {Size: -1}, {Size: -1}, {Size: -1}}
	}
	if len(s) != 3 && len(s) != 4 {
		return imageLayout{}, fmt.Errorf("input %q has shape %v: an image needs a rank-4 (NCHW or NHWC) or rank-3 input", vi.Name, s)
	}
	l := imageLayout{rank: len(s), batch: 1}
	off := len(s) - 3 // 1 when there is a batch dimension
	isChannel := func(d tensor.Dim) bool { return d.Size == 1 || d.Size == 3 }
	switch forced {
	case "nchw":
	case "nhwc":
		l.nhwc = true
	default:
		first, last := isChannel(s[off]), isChannel(s[off+2])
		switch {
		case first && last:
			// [1 1 H 3] and the like: prefer the RGB reading.
			l.nhwc = s[off+2].Size == 3 && s[off].Size != 3
		case first:
		case last:
			l.nhwc = true
		case !s[off].Known() && !s[off+2].Known():
			// Nothing tells: NCHW, the ONNX convention.
		default:
			return imageLayout{}, fmt.Errorf("input %q has shape %v: no channel dimension of size 1 or 3 at position %d (NCHW) or %d (NHWC); use --layout", vi.Name, s, off, off+2)
		}
	}
	if l.nhwc {
		l.hAxis, l.cAxis = off, off+2
	} else {
		l.cAxis, l.hAxis = off, off+1
	}
	dim := func(i int) int {
		if s[i].Known() {
			return int(s[i].Size)
		}
		return 0
	}
	l.channels = dim(l.cAxis)
	if l.channels == 0 {
		l.channels = 3
	}
	if l.channels != 1 && l.channels != 3 {
		return imageLayout{}, fmt.Errorf("input %q has shape %v: %d channels, an image gives 1 (grayscale) or 3 (RGB)", vi.Name, s, l.channels)
	}
	l.height, l.width = dim(l.hAxis), dim(l.hAxis+1)
	if off == 1 {
		if b := dim(0); b > 1 {
			return imageLayout{}, fmt.Errorf("input %q has shape %v: the model wants a batch of %d, an image gives 1", vi.Name, s, b)
		}
	}
	return l, nil
}

// loadImage decodes a PNG or JPEG image and turns it into a tensor for the
// model input vi: resized (bilinear) to the input's H×W, grayscale or RGB
// after its channel count, in NCHW or NHWC, with pixel values
// (p*scale-mean)/std.
func loadImage(r io.ReadSeeker, vi graph.ValueInfo, o imageOptions) (*tensor.Tensor, error) {
	l, err := layoutFor(vi, o.layout)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("image is %dx%d: too large or empty", cfg.Width, cfg.Height)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	h, w := l.height, l.width
	if o.h > 0 {
		h, w = o.h, o.w
	}
	if h == 0 || w == 0 {
		b := img.Bounds()
		if h == 0 {
			h = b.Dy()
		}
		if w == 0 {
			w = b.Dx()
		}
	}
	if int64(h)*int64(w) > maxImagePixels {
		return nil, fmt.Errorf("target size %dx%d is too large", h, w)
	}
	planes := imagePlanes(img, l.channels)
	b := img.Bounds()
	for c := range planes {
		planes[c] = resizePlane(planes[c], b.Dx(), b.Dy(), w, h)
	}

	dt := vi.Type.DType
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	scale := o.scale
	if !o.scaleSet {
		scale = 1.0 / 255
		if dt.IsInt() {
			scale = 1 // integer inputs (uint8 images) take raw pixels
		}
	}
	mean, err := perChannel(o.mean, l.channels, 0, "--mean")
	if err != nil {
		return nil, err
	}
	std, err := perChannel(o.std, l.channels, 1, "--std")
	if err != nil {
		return nil, err
	}
	shape := []int{l.channels, h, w}
	if l.nhwc {
		shape = []int{h, w, l.channels}
	}
	if l.rank == 4 {
		shape = append([]int{1}, shape...)
	}
	out := make([]float64, l.channels*h*w)
	for c, p := range planes {
		for i, v := range p {
			x := (float64(v)*scale - mean[c]) / std[c]
			if dt.IsInt() || dt == tensor.Bool {
				x = math.Round(x)
			}
			if l.nhwc {
				out[i*l.channels+c] = x
			} else {
				out[c*h*w+i] = x
			}
		}
	}
	t, err := tensor.FromSlice(shape, out)
	if err != nil {
		return nil, err
	}
	if dt != tensor.Float64 {
		if !(dt.IsNumeric() || dt == tensor.Bool) {
			return nil, fmt.Errorf("input %q has type %v: an image cannot fill it", vi.Name, dt)
		}
		return t.Cast(dt)
	}
	return t, nil
}

// perChannel expands a --mean/--std list to one value per channel.
func perChannel(v []float64, channels int, def float64, flagName string) ([]float64, error) {
	out := make([]float64, channels)
	switch len(v) {
	case 0:
		for i := range out {
			out[i] = def
		}
	case 1:
		for i := range out {
			out[i] = v[0]
		}
	case channels:
		copy(out, v)
	default:
		return nil, fmt.Errorf("%s has %d values, the input has %d channels", flagName, len(v), channels)
	}
	if flagName == "--std" {
		for _, s := range out {
			if s == 0 {
				return nil, fmt.Errorf("--std must not contain 0")
			}
		}
	}
	return out, nil
}

// imagePlanes returns the image as channels planes of width*height pixel
// values in [0, 255]: one luminance plane (ITU-R 601, as PIL's "L") or R,
// G and B. Alpha is ignored.
func imagePlanes(img image.Image, channels int) [][]float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	planes := make([][]float32, channels)
	for c := range planes {
		planes[c] = make([]float32, w*h)
	}
	set := func(i int, r, g, bl float32) {
		if channels == 1 {
			planes[0][i] = 0.299*r + 0.587*g + 0.114*bl
			return
		}
		planes[0][i], planes[1][i], planes[2][i] = r, g, bl
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				f := float32(v)
				set(y*w+x, f, f, f)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				set(y*w+x, float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2]))
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				set(y*w+x, float32(c.R)/257, float32(c.G)/257, float32(c.B)/257)
			}
		}
	}
	return planes
}

// resizePlane resamples a w×h plane to nw×nh with a triangle (bilinear)
// filter on pixel centers, widened when shrinking so that every source
// pixel contributes (as PIL's BILINEAR does).
func resizePlane(p []float32, w, h, nw, nh int) []float32 {
	if w == nw && h == nh {
		return p
	}
	xs := filterWeights(w, nw)
	ys := filterWeights(h, nh)
	tmp := make([]float32, nw*h) // horizontal pass
	for y := 0; y < h; y++ {
		row := p[y*w : (y+1)*w]
		for x, f := range xs {
			var s float32
			for k, wt := range f.w {
				s += wt * row[f.first+k]
			}
			tmp[y*nw+x] = s
		}
	}
	out := make([]float32, nw*nh) // vertical pass
	for y, f := range ys {
		for x := 0; x < nw; x++ {
			var s float32
			for k, wt := range f.w {
				s += wt * tmp[(f.first+k)*nw+x]
			}
			out[y*nw+x] = s
		}
	}
	return out
}

type taps struct {
	first int
	w     []float32
}

// filterWeights computes, for each of n output positions, the source
// pixels (from first) and normalized weights of a triangle filter.
func filterWeights(src, n int) []taps {
	scale := float64(src) / float64(n)
	support := math.Max(scale, 1) // filter radius in source pixels
	out := make([]taps, n)
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(math.Floor(center-support)), 0)
		hi := min(int(math.Ceil(center+support)), src)
		var ws []float32
		var sum float64
		for j := lo; j < hi; j++ {
			d := math.Abs((float64(j) + 0.5 - center) / support)
			wt := math.Max(0, 1-d)
			ws = append(ws, float32(wt))
			sum += wt
		}
		// Trim zero weights at the ends.
		for len(ws) > 0 && ws[0] == 0 {
			ws = ws[1:]
			lo++
		}
		for len(ws) > 0 && ws[len(ws)-1] == 0 {
			ws = ws[:len(ws)-1]
		}
		if sum == 0 { // cannot happen for src >= 1; be safe
			j := min(max(int(center), 0), src-1)
			out[i] = taps{first: j, w: []float32{1}}
			continue
		}
		for k := range ws {
			ws[k] = float32(float64(ws[k]) / sum)
		}
		out[i] = taps{first: lo, w: ws}
	}
	return out
}
