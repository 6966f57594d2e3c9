package ops

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // ImageDecoder reads GIF
	_ "image/jpeg" // and JPEG
	_ "image/png"  // and PNG

	"github.com/onyxrt/onyx/tensor"
)

// buildImageDecoder decodes an encoded image (a uint8 byte stream) into a
// uint8 [H, W, C] tensor: C = 3 for pixel_format RGB or BGR, 1 for
// Grayscale (ITU-R 601 luma rounded as PIL's "L" conversion, which the
// ONNX reference implementation uses). PNG, JPEG and GIF are read with
// the standard library; other formats return an error.
func buildImageDecoder(b *Builder) (Kernel, error) {
	format := b.String("pixel_format", "RGB")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if format != "RGB" && format != "BGR" && format != "Grayscale" {
		return nil, fmt.Errorf("pixel_format %q is not RGB, BGR or Grayscale", format)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		data := tensor.Data[uint8](in[0])
		if data == nil || in[0].Rank() != 1 {
			return nil, fmt.Errorf("encoded_stream must be a 1-D uint8 tensor, got %v%v", in[0].DType(), in[0].Shape())
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("cannot decode the image (PNG, JPEG and GIF are supported): %w", err)
		}
		r := img.Bounds()
		c := 3
		if format == "Grayscale" {
			c = 1
		}
		out, err := tensor.New(tensor.Uint8, r.Dy(), r.Dx(), c)
		if err != nil {
			return nil, err
		}
		o := tensor.Data[uint8](out)
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				px := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				switch format {
				case "RGB":
					o[i], o[i+1], o[i+2] = px.R, px.G, px.B
				case "BGR":
					o[i], o[i+1], o[i+2] = px.B, px.G, px.R
				default:
					o[i] = uint8((uint32(px.R)*19595 + uint32(px.G)*38470 + uint32(px.B)*7471 + 0x8000) >> 16)
				}
				i += c
			}
		}
		return rc.Results(out), nil
	}), nil
}
