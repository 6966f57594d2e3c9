package data

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/cmplx"
	"slices"
	"testing"
)

func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{2, 8, 64, 512} {
		x := make([]complex128, n)
		r := rng{s: uint64(n)}
		for i := range x {
			x[i] = complex(float64(r.below(1000))/500-1, float64(r.below(1000))/500-1)
		}
		want := make([]complex128, n)
		for k := range want {
			for j, v := range x {
				want[k] += v * cmplx.Rect(1, -2*math.Pi*float64(j*k)/float64(n))
			}
		}
		newFFT(n).transform(x)
		for k := range x {
			if cmplx.Abs(x[k]-want[k]) > 1e-9*float64(n) {
				t.Fatalf("n=%d bin %d: %v, want %v", n, k, x[k], want[k])
			}
		}
	}
}

func TestInterleave(t *testing.T) {
	// Classes of 2, 3 and 1 items stored at 0-1, 2-4, 5.
	if got, want := interleave([]int{2, 3, 1}), []int{0, 2, 5, 1, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("interleave = %v, want %v", got, want)
	}
}

func TestBilinearTaps(t *testing.T) {
	for _, tap := range bilinearTaps(5, 5) {
		if tap.f != 0 {
			t.Fatalf("identity resize has fractional taps: %v", tap)
		}
	}
	// 2 -> 4 with half-pixel centres: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped).
	got := bilinearTaps(2, 4)
	want := []bilinearTap{{0, 1, 0}, {0, 1, 0.25}, {0, 1, 0.75}, {1, 1, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("taps %v, want %v", got, want)
	}
	if px := resizeUint8([]uint8{0, 200}, 1, 2, 1, 1, 4); !slices.Equal(px, []uint8{0, 50, 150, 200}) {
		t.Errorf("resizeUint8 = %v", px)
	}
}

// wav16 builds a 16-bit PCM WAV with an odd-sized extra chunk before the
// data (to exercise chunk padding).
func wav16(rate int, channels int, samples []int16) []byte {
	var fmtc, data bytes.Buffer
	for _, v := range []any{uint16(1), uint16(channels), uint32(rate), uint32(rate * 2 * channels), uint16(2 * channels), uint16(16)} {
		binary.Write(&fmtc, binary.LittleEndian, v)
	}
	binary.Write(&data, binary.LittleEndian, samples)
	var b bytes.Buffer
	chunk := func(id string, body []byte) {
		b.WriteString(id)
		binary.Write(&b, binary.LittleEndian, uint32(len(body)))
		b.Write(body)
		if len(body)%2 == 1 {
			b.WriteByte(0)
		}
	}
	b.WriteString("RIFF\x00\x00\x00\x00WAVE")
	chunk("fmt ", fmtc.Bytes())
	chunk("LIST", []byte("odd"))
	chunk("data", data.Bytes())
	return b.Bytes()
}

func TestDecodeWAV(t *testing.T) {
	s, rate, err := DecodeWAV(wav16(8000, 2, []int16{-32768, 0, 16384, 16384}))
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || !slices.Equal(s, []float32{-0.5, 0.5}) {
		t.Errorf("got %v at %d Hz, want [-0.5 0.5] at 8000", s, rate)
	}
	for _, bad := range [][]byte{[]byte("RIFF"), []byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00")} {
		if _, _, err := DecodeWAV(bad); err == nil {
			t.Errorf("DecodeWAV(%q) succeeded", bad)
		}
	}
}

// TestLogMelTone: a 1 kHz tone puts its energy in the mel band around
// 1 kHz, in every frame; silence gives log(1e-6).
func TestLogMelTone(t *testing.T) {
	s := make([]float32, ClipLen)
	for i := range s {
		s[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/SampleRate))
	}
	lm := LogMel(s)
	if len(lm) != MelBands*MelFrames {
		t.Fatalf("%d values, want %d", len(lm), MelBands*MelFrames)
	}
	mel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
	// Band m is centred at mel edge m+1.
	wantBand := int(math.Round((mel(1000)-mel(melLowHz))/(mel(melTopHz)-mel(melLowHz))*(MelBands+1))) - 1
	for _, frame := range []int{1, 40, 78} {
		best := 0
		for m := range MelBands {
			if lm[m*MelFrames+frame] > lm[best*MelFrames+frame] {
				best = m
			}
		}
		if best != wantBand {
			t.Errorf("frame %d: loudest band %d, want %d", frame, best, wantBand)
		}
	}
	silent := LogMel(nil)
	if want := float32(math.Log(logFloor)); silent[0] != want || silent[len(silent)-1] != want {
		t.Errorf("silence: %g, want %g", silent[0], want)
	}
	mf := MFCC(s)
	if len(mf) != len(lm) {
		t.Fatalf("MFCC has %d values", len(mf))
	}
	// c0 is the band mean times sqrt(n).
	var sum float64
	for m := range MelBands {
		sum += float64(lm[m*MelFrames+40])
	}
	if c0 := float64(mf[40]); math.Abs(c0-sum/math.Sqrt(MelBands)) > 1e-3 {
		t.Errorf("MFCC c0 = %g, want %g", c0, sum/math.Sqrt(MelBands))
	}
}

func TestImageSetConvert(t *testing.T) {
	const h, w = 3, 4
	pix := make([]uint8, h*w*3)
	r := rng{s: 5}
	for i := range pix {
		pix[i] = uint8(r.below(256))
	}
	at := func(y, x, ch int) float32 { return float32(pix[(y*w+x)*3+ch]) }
	get := func(opts Options) []float32 {
		t.Helper()
		s, err := newImageSet(pix, 1, h, w, 3, []int64{0}, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Batch([]int{0})
		if err != nil {
			t.Fatal(err)
		}
		return b[Input].Float32s()
	}
	near := func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 }
	nchw, nhwc := get(Options{}), get(Options{Layout: "NHWC"})
	grey := get(Options{Channels: 1, PixelScale: 1})
	same := get(Options{Size: [2]int{h, w}, PixelScale: 2.0 / 255, PixelOffset: -1})
	up := get(Options{Size: [2]int{2 * h, 2 * w}, PixelScale: 1, Layout: "NHWC"})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < 3; ch++ {
				a, b := nchw[(ch*h+y)*w+x], nhwc[(y*w+x)*3+ch]
				if !near(a, at(y, x, ch)/255) || a != b {
					t.Fatalf("(%d,%d,%d): NCHW %g, NHWC %g, want %g", y, x, ch, a, b, at(y, x, ch)/255)
				}
				if !near(same[(ch*h+y)*w+x], at(y, x, ch)*2/255-1) {
					t.Fatalf("scale/offset at (%d,%d,%d): %g", y, x, ch, same[(ch*h+y)*w+x])
				}
			}
			if g := grey[y*w+x]; !near(g, luma(at(y, x, 0), at(y, x, 1), at(y, x, 2))) {
				t.Fatalf("grey at (%d,%d): %g", y, x, g)
			}
		}
	}
	// Upsampling x2 with half-pixel centres: output (0,0) is source (0,0);
	// output (1,1) sits at source (0.25, 0.25).
	for ch := 0; ch < 3; ch++ {
		if got := up[ch]; !near(got, at(0, 0, ch)) {
			t.Errorf("up(0,0,%d) = %g, want %g", ch, got, at(0, 0, ch))
		}
		want := 0.75*(0.75*at(0, 0, ch)+0.25*at(0, 1, ch)) + 0.25*(0.75*at(1, 0, ch)+0.25*at(1, 1, ch))
		if got := up[(1*2*w+1)*3+ch]; math.Abs(float64(got-want)) > 1e-3 {
			t.Errorf("up(1,1,%d) = %g, want %g", ch, got, want)
		}
	}
	// Grey to RGB replicates.
	g, err := newImageSet([]uint8{51}, 1, 1, 1, 1, []int64{0}, nil, Options{Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := g.Batch([]int{0})
	if v := b[Input].Float32s(); !slices.Equal(b[Input].Shape(), []int{1, 3, 1, 1}) || v[0] != v[1] || v[1] != v[2] || !near(v[0], 0.2) {
		t.Errorf("grey->RGB: %v %v", b[Input].Shape(), v)
	}
}
