package data_test

import (
	"testing"

	"github.com/onyxrt/onyx/train/data"
)

// BenchmarkOpen times full loads of the real data sets:
//
//	go test -run X -bench Open -benchtime 1x ./train/data
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct{ name, sub, kind, split string }{
		{"mnist-train", "mnist", "mnist", "train"},
		{"mnist-test", "mnist", "mnist", "test"},
		{"cifar10-test", "cifar10", "cifar10", "test"},
		{"cifar10-train", "cifar10", "cifar10", "train"},
		{"imdb-train", "imdb", "imdb", "train"},
		{"speech-all", "speech_commands_v0.01_subset", "speech", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := sharedData(b, c.sub)
			for b.Loop() {
				ds, err := data.Open(c.kind+":"+p, c.split, data.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(ds.Len()), "examples")
			}
		})
	}
}

// BenchmarkBatch times assembling one shuffled batch of 64 (uint8 -> float32
// conversion for images).
func BenchmarkBatch(b *testing.B) {
	for _, c := range []struct {
		name, sub, kind string
		opts            data.Options
	}{
		{"mnist", "mnist", "mnist", data.Options{Limit: 1000}},
		{"cifar10", "cifar10", "cifar10", data.Options{Limit: 1000}},
		{"cifar10-resize-96", "cifar10", "cifar10", data.Options{Limit: 1000, Size: [2]int{96, 96}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ds, err := data.Open(c.kind+":"+sharedData(b, c.sub), "test", c.opts)
			if err != nil {
				b.Fatal(err)
			}
			batches := data.Batches(ds.Len(), 64, 1, true)
			i := 0
			for b.Loop() {
				if _, err := ds.Batch(batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
