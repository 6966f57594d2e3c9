package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // imagefolder reads GIFs too
	"image/jpeg"
	"image/png"
	"math"
	"runtime"
	"sync"

	"github.com/onyxrt/onyx/tensor"
)

// imageSet holds n images of h x w x c uint8 pixels (HWC, row-major) and
// converts them per batch to float32 in the requested layout, size and
// channel count.
type imageSet struct {
	pix     []uint8
	n       int
	h, w, c int
	labels  []int64
	classes []string

	outH, outW, outC int
	nhwc             bool
	scale, offset    float32
	resize           bool
	ytaps, xtaps     []bilinearTap // output rows/columns -> source (identity without resize)
}

func newImageSet(pix []uint8, n, h, w, c int, labels []int64, classes []string, opts Options) (*imageSet, error) {
	if len(pix) != n*h*w*c || len(labels) != n {
		return nil, fmt.Errorf("internal: %d pixels and %d labels for %d images of %dx%dx%d", len(pix), len(labels), n, h, w, c)
	}
	nhwc, err := opts.nhwc()
	if err != nil {
		return nil, err
	}
	s := &imageSet{pix: pix, n: n, h: h, w: w, c: c, labels: labels, classes: classes,
		outH: h, outW: w, outC: c, nhwc: nhwc, scale: opts.PixelScale, offset: opts.PixelOffset}
	if opts.Size[0] > 0 {
		s.outH, s.outW = opts.Size[0], opts.Size[1]
	}
	if opts.Channels != 0 {
		s.outC = opts.Channels
	}
	if s.scale == 0 {
		s.scale = 1.0 / 255
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("internal: images with %d channels", c)
	}
	s.resize = s.outH != h || s.outW != w
	s.ytaps, s.xtaps = bilinearTaps(h, s.outH), bilinearTaps(w, s.outW)
	return s, nil
}

func (s *imageSet) Len() int          { return s.n }
func (s *imageSet) Classes() []string { return s.classes }

func (s *imageSet) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	if err := checkIndices(idx, s.n); err != nil {
		return nil, err
	}
	b := len(idx)
	per := s.outH * s.outW * s.outC
	x := make([]float32, b*per)
	y := make([]int64, b)
	for i, j := range idx {
		s.convert(x[i*per:(i+1)*per], j)
		y[i] = s.labels[j]
	}
	shape := []int{b, s.outC, s.outH, s.outW}
	if s.nhwc {
		shape = []int{b, s.outH, s.outW, s.outC}
	}
	return map[string]*tensor.Tensor{
		Input: tensor.From(shape, x),
		Label: tensor.From([]int{b}, y),
	}, nil
}

// convert writes image j into dst (one example in the output layout).
func (s *imageSet) convert(dst []float32, j int) {
	c, oc, oh, ow := s.c, s.outC, s.outH, s.outW
	src := s.pix[j*s.h*s.w*c : (j+1)*s.h*s.w*c]
	plane := oh * ow
	if !s.resize && oc == c { // fast path: scale, and transpose for NCHW
		if s.nhwc || c == 1 {
			for k, v := range src {
				dst[k] = float32(v)*s.scale + s.offset
			}
			return
		}
		for k := 0; k < plane; k++ {
			for ch := 0; ch < c; ch++ {
				dst[ch*plane+k] = float32(src[k*c+ch])*s.scale + s.offset
			}
		}
		return
	}
	var px, out [3]float32
	for y := 0; y < oh; y++ {
		ty := s.ytaps[y]
		r0, r1 := ty.i0*s.w, ty.i1*s.w
		for x := 0; x < ow; x++ {
			if s.resize {
				tx := s.xtaps[x]
				a, b := (r0+tx.i0)*c, (r0+tx.i1)*c
				d, e := (r1+tx.i0)*c, (r1+tx.i1)*c
				for ch := 0; ch < c; ch++ {
					top := float32(src[a+ch]) + (float32(src[b+ch])-float32(src[a+ch]))*tx.f
					bot := float32(src[d+ch]) + (float32(src[e+ch])-float32(src[d+ch]))*tx.f
					px[ch] = top + (bot-top)*ty.f
				}
			} else {
				o := (y*s.w + x) * c
				for ch := 0; ch < c; ch++ {
					px[ch] = float32(src[o+ch])
				}
			}
			switch {
			case oc == c:
				out = px
			case oc == 3: // grey -> RGB
				out = [3]float32{px[0], px[0], px[0]}
			default: // RGB -> grey
				out[0] = luma(px[0], px[1], px[2])
			}
			if s.nhwc {
				o := (y*ow + x) * oc
				for ch := 0; ch < oc; ch++ {
					dst[o+ch] = out[ch]*s.scale + s.offset
				}
			} else {
				o := y*ow + x
				for ch := 0; ch < oc; ch++ {
					dst[ch*plane+o] = out[ch]*s.scale + s.offset
				}
			}
		}
	}
}

func luma(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// bilinearTap is one output coordinate's two source neighbours and the
// weight of the second.
type bilinearTap struct {
	i0, i1 int
	f      float32
}

// bilinearTaps maps out coordinates onto in with half-pixel centres (as
// TensorFlow's resize and ONNX Resize's default), clamping at the edges.
func bilinearTaps(in, out int) []bilinearTap {
	taps := make([]bilinearTap, out)
	scale := float64(in) / float64(out)
	for o := range taps {
		s := (float64(o)+0.5)*scale - 0.5
		s = math.Max(s, 0)
		i0 := int(s)
		if i0 >= in-1 {
			taps[o] = bilinearTap{i0: in - 1, i1: in - 1}
			continue
		}
		taps[o] = bilinearTap{i0: i0, i1: i0 + 1, f: float32(s - float64(i0))}
	}
	return taps
}

// resizeUint8 resizes one HWC uint8 image (bilinear, half-pixel centres,
// rounded).
func resizeUint8(src []uint8, h, w, c, oh, ow int) []uint8 {
	if h == oh && w == ow {
		return src
	}
	ys, xs := bilinearTaps(h, oh), bilinearTaps(w, ow)
	dst := make([]uint8, oh*ow*c)
	for y, ty := range ys {
		for x, tx := range xs {
			for ch := 0; ch < c; ch++ {
				p := func(yy, xx int) float32 { return float32(src[(yy*w+xx)*c+ch]) }
				top := p(ty.i0, tx.i0)*(1-tx.f) + p(ty.i0, tx.i1)*tx.f
				bot := p(ty.i1, tx.i0)*(1-tx.f) + p(ty.i1, tx.i1)*tx.f
				v := top*(1-ty.f) + bot*ty.f
				dst[(y*ow+x)*c+ch] = uint8(min(max(v+0.5, 0), 255))
			}
		}
	}
	return dst
}

// decodeRGB decodes a PNG, JPEG or GIF (any format registered with package
// image) into HWC RGB uint8 pixels.
func decodeRGB(b []byte) (pix []uint8, h, w int, err error) {
	var img image.Image
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(b))
	default:
		img, _, err = image.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, 0, 0, err
	}
	pix, h, w = toRGB(img)
	return pix, h, w, nil
}

// toRGB converts an image to HWC RGB bytes, with fast paths for the types
// the standard decoders return.
func toRGB(img image.Image) ([]uint8, int, int) {
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	out := make([]uint8, h*w*3)
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				o := (y*w + x) * 3
				out[o], out[o+1], out[o+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := (y*w + x) * 3
				out[o], out[o+1], out[o+2] = v, v, v
			}
		}
	case *image.NRGBA:
		// Alpha is dropped (colours as stored, not premultiplied).
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := (y*w + x) * 3
				out[o], out[o+1], out[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := (y*w + x) * 3
				out[o], out[o+1], out[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
				o := (y*w + x) * 3
				out[o], out[o+1], out[o+2] = c.R, c.G, c.B
			}
		}
	}
	return out, h, w
}

// parallel runs f(i) for i in [0, n) on GOMAXPROCS workers and returns the
// first error.
func parallel(n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		err  error
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if err != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if e := f(i); e != nil {
					mu.Lock()
					if err == nil {
						err = e
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return err
}
