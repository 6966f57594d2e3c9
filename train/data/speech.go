package data

import (
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/onyxrt/onyx/tensor"
)

// The speech front end: 1 s of 16 kHz audio becomes MelBands x MelFrames
// log-mel energies. Frames of 25 ms (400 samples, periodic Hann window)
// every 12.5 ms (200 samples) over the clip padded with 100 zeros on each
// side; a 512-point FFT; the power spectrum through MelBands triangular
// filters equally spaced on the HTK mel scale between 20 Hz and 8 kHz
// (TensorFlow's linear_to_mel_weight_matrix construction); natural log of
// energy + 1e-6. MFCCs are the orthonormal DCT-II of the log-mel bands.
const (
	SampleRate = 16000
	ClipLen    = SampleRate // samples per clip (1 s)
	MelBands   = 20
	MelFrames  = 80

	frameLen = 400
	frameHop = 200
	fftLen   = 512
	edgePad  = 100 // (MelFrames-1)*frameHop + frameLen = ClipLen + 2*edgePad
	melLowHz = 20
	melTopHz = SampleRate / 2
	logFloor = 1e-6
)

// DecodeWAV decodes a RIFF/WAVE file of PCM samples (8, 16, 24 or 32 bit
// integer or 32-bit float; several channels are averaged) into floats in
// [-1, 1) and returns them with the sample rate.
func DecodeWAV(b []byte) ([]float32, int, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("wav: not a RIFF/WAVE file")
	}
	var (
		format, channels, bitsPer uint16
		rate                      uint32
		haveFmt                   bool
	)
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size < 0 || size > len(body) {
			if id != "data" {
				return nil, 0, fmt.Errorf("wav: chunk %q of %d bytes overruns the file", id, size)
			}
			size = len(body) // a truncated data chunk: read what is there
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, fmt.Errorf("wav: fmt chunk of %d bytes", size)
			}
			format = binary.LittleEndian.Uint16(body)
			channels = binary.LittleEndian.Uint16(body[2:])
			rate = binary.LittleEndian.Uint32(body[4:])
			bitsPer = binary.LittleEndian.Uint16(body[14:])
			if format == 0xfffe && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first 2 bytes
				format = binary.LittleEndian.Uint16(body[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("wav: data chunk before fmt chunk")
			}
			s, err := pcmSamples(body, format, int(channels), int(bitsPer))
			return s, int(rate), err
		}
		p += 8 + size + size&1 // chunks are padded to even sizes
	}
	return nil, 0, fmt.Errorf("wav: no data chunk")
}

func pcmSamples(body []byte, format uint16, channels, bits int) ([]float32, error) {
	if channels <= 0 {
		return nil, fmt.Errorf("wav: %d channels", channels)
	}
	var conv func([]byte) float32
	switch {
	case format == 1 && bits == 8:
		conv = func(s []byte) float32 { return (float32(s[0]) - 128) / 128 }
	case format == 1 && bits == 16:
		conv = func(s []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(s))) / 32768 }
	case format == 1 && bits == 24:
		conv = func(s []byte) float32 {
			return float32(int32(uint32(s[0])<<8|uint32(s[1])<<16|uint32(s[2])<<24)>>8) / (1 << 23)
		}
	case format == 1 && bits == 32:
		conv = func(s []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(s))) / (1 << 31) }
	case format == 3 && bits == 32:
		conv = func(s []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(s)) }
	default:
		return nil, fmt.Errorf("wav: unsupported encoding (format %d, %d bits)", format, bits)
	}
	bps := bits / 8
	frame := bps * channels
	n := len(body) / frame
	out := make([]float32, n)
	for i := range out {
		var sum float32
		for c := 0; c < channels; c++ {
			sum += conv(body[i*frame+c*bps:])
		}
		out[i] = sum / float32(channels)
	}
	return out, nil
}

// frontEnd holds the window and mel filters, built once.
var frontEnd = sync.OnceValue(func() *melFrontEnd {
	fe := &melFrontEnd{window: make([]float64, frameLen), fft: newFFT(fftLen)}
	for i := range fe.window {
		fe.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/frameLen)
	}
	mel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
	lo, hi := mel(melLowHz), mel(melTopHz)
	edges := make([]float64, MelBands+2)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(MelBands+1)
	}
	bins := fftLen/2 + 1
	fe.filters = make([][]float64, MelBands)
	for m := range fe.filters {
		f := make([]float64, bins)
		l, c, r := edges[m], edges[m+1], edges[m+2]
		for k := 1; k < bins; k++ { // bin 0 (DC) gets no weight
			x := mel(float64(k) * SampleRate / fftLen)
			f[k] = math.Max(0, math.Min((x-l)/(c-l), (r-x)/(r-c)))
		}
		fe.filters[m] = f
		lo, hi := 0, 0
		for k, w := range f {
			if w > 0 {
				if hi == 0 {
					lo = k
				}
				hi = k + 1
			}
		}
		fe.lo, fe.hi = append(fe.lo, lo), append(fe.hi, hi)
	}
	return fe
})

type melFrontEnd struct {
	window  []float64
	filters [][]float64 // [band][bin]
	lo, hi  []int       // bins [lo, hi) of band m have non-zero weight
	fft     *fft
}

// LogMel returns the MelBands x MelFrames log-mel energies (band-major: row
// m is band m over time) of a 16 kHz clip, zero-padded or cut at the end to
// ClipLen samples.
func LogMel(samples []float32) []float32 {
	fe := frontEnd()
	x := make([]float64, ClipLen+2*edgePad)
	for i := 0; i < min(len(samples), ClipLen); i++ {
		x[edgePad+i] = float64(samples[i])
	}
	out := make([]float32, MelBands*MelFrames)
	buf := make([]complex128, fftLen)
	power := make([]float64, fftLen/2+1)
	for t := 0; t < MelFrames; t++ {
		clear(buf)
		for i := 0; i < frameLen; i++ {
			buf[i] = complex(x[t*frameHop+i]*fe.window[i], 0)
		}
		fe.fft.transform(buf)
		for k := range power {
			re, im := real(buf[k]), imag(buf[k])
			power[k] = re*re + im*im
		}
		for m, f := range fe.filters {
			var e float64
			for k := fe.lo[m]; k < fe.hi[m]; k++ {
				e += f[k] * power[k]
			}
			out[m*MelFrames+t] = float32(math.Log(e + logFloor))
		}
	}
	return out
}

// MFCC returns MelBands cepstral coefficients per frame (the same
// band-major MelBands x MelFrames layout as LogMel): the orthonormal DCT-II
// of the log-mel energies.
func MFCC(samples []float32) []float32 {
	lm := LogMel(samples)
	out := make([]float32, len(lm))
	const n = MelBands
	for t := 0; t < MelFrames; t++ {
		for k := 0; k < n; k++ {
			var s float64
			for m := 0; m < n; m++ {
				s += float64(lm[m*MelFrames+t]) * math.Cos(math.Pi/n*(float64(m)+0.5)*float64(k))
			}
			scale := math.Sqrt(2.0 / n)
			if k == 0 {
				scale = math.Sqrt(1.0 / n)
			}
			out[k*MelFrames+t] = float32(s * scale)
		}
	}
	return out
}

// fft is an iterative radix-2 complex FFT of one power-of-two size.
type fft struct {
	n   int
	tw  []complex128
	rev []int
}

func newFFT(n int) *fft {
	f := &fft{n: n, tw: make([]complex128, n/2), rev: make([]int, n)}
	for i := range f.tw {
		f.tw[i] = cmplx.Rect(1, -2*math.Pi*float64(i)/float64(n))
	}
	bits := 0
	for 1<<bits < n {
		bits++
	}
	for i := range f.rev {
		r := 0
		for b := 0; b < bits; b++ {
			if i&(1<<b) != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		f.rev[i] = r
	}
	return f
}

// transform replaces x (of length n) by its DFT.
func (f *fft) transform(x []complex128) {
	for i, r := range f.rev {
		if i < r {
			x[i], x[r] = x[r], x[i]
		}
	}
	for size := 2; size <= f.n; size <<= 1 {
		half, step := size/2, f.n/size
		for start := 0; start < f.n; start += size {
			for k := 0; k < half; k++ {
				t := f.tw[k*step] * x[start+k+half]
				x[start+k+half] = x[start+k] - t
				x[start+k] += t
			}
		}
	}
}

// openSpeech reads the clips listed in dir/manifest.csv (columns path,
// label and split) whose split is split ("train", "validation"/"val",
// "test"; "" or "all" for every clip). Labels number the words of the whole
// manifest in sorted order; the clips are interleaved word by word.
func openSpeech(dir, split string, opts Options) (Dataset, error) {
	mfcc := false
	switch strings.ToLower(opts.Features) {
	case "", "logmel", "log-mel", "mel":
	case "mfcc":
		mfcc = true
	default:
		return nil, fmt.Errorf("unknown speech features %q (want logmel or mfcc)", opts.Features)
	}
	split = strings.ToLower(split)
	switch split {
	case "val", "valid":
		split = "validation"
	case "all":
		split = ""
	}
	f, err := os.Open(filepath.Join(dir, "manifest.csv"))
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("manifest.csv: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("manifest.csv lists no clips")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"path", "label", "split"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("manifest.csv has no %q column (header %v)", need, rows[0])
		}
	}
	rows = rows[1:]
	words := map[string]bool{}
	for _, r := range rows {
		words[r[col["label"]]] = true
	}
	classes := make([]string, 0, len(words))
	for w := range words {
		classes = append(classes, w)
	}
	sort.Strings(classes)
	id := map[string]int64{}
	for i, w := range classes {
		id[w] = int64(i)
	}
	// Interleave the words (see the package documentation), clips of a word
	// in manifest order.
	byWord := make([][][]string, len(classes))
	var counts []int
	for _, r := range rows {
		if split == "" || r[col["split"]] == split {
			w := id[r[col["label"]]]
			byWord[w] = append(byWord[w], r)
		}
	}
	var grouped [][]string
	for _, rs := range byWord {
		grouped = append(grouped, rs...)
		counts = append(counts, len(rs))
	}
	if len(grouped) == 0 {
		return nil, fmt.Errorf("manifest.csv has no clips in split %q", split)
	}
	sel := make([][]string, len(grouped))
	for i, j := range interleave(counts) {
		sel[i] = grouped[j]
	}
	keep := selectOrder(len(sel), opts)
	per := MelBands * MelFrames
	x := make([]float32, len(keep)*per)
	y := make([]int64, len(keep))
	err = parallel(len(keep), func(i int) error {
		r := sel[keep[i]]
		name := filepath.Join(dir, filepath.FromSlash(r[col["path"]]))
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		s, rate, err := DecodeWAV(b)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rate != SampleRate {
			return fmt.Errorf("%s: sample rate %d Hz, want %d", name, rate, SampleRate)
		}
		var feat []float32
		if mfcc {
			feat = MFCC(s)
		} else {
			feat = LogMel(s)
		}
		copy(x[i*per:], feat)
		y[i] = id[r[col["label"]]]
		return nil
	})
	if err != nil {
		return nil, err
	}
	nhwc, _ := opts.nhwc()
	shape := []int{len(keep), 1, MelBands, MelFrames}
	if nhwc { // one channel: the same memory order
		shape = []int{len(keep), MelBands, MelFrames, 1}
	}
	return &arraySet{x: tensor.From(shape, x), y: tensor.From([]int{len(keep)}, y), classes: classes}, nil
}
