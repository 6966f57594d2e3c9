package ops

import "github.com/onyxrt/onyx/ops/asm"

// How a float32 convolution with fewer (image, group) units than threads
// is split (conv32Plan.run): into parts of each unit's columns (output
// positions), or else of its rows (output channels).
//
// A column part packs only its own columns of the im2col matrix but
// streams all of the unit's weights, which the single-threaded product
// also streams once per asm.SgemmActBlocks column block; a row part
// streams only its rows of the weights but packs all the columns. A unit
// with enough columns is cut into up to splitPiecesPerThread column parts
// per thread, of at least splitMinPanels panels each: a thread that
// starts late, or that the OS preempts, then leaves the parts it has not
// claimed to the others instead of making them wait for half the work.
// Measured on the ResNet-50 layers (one thread running all the parts in
// turn), two such parts per thread cost about 1-3% more than one, and
// four parts of four panels 2-9%.
const (
	splitPiecesPerThread = 2
	splitMinPanels       = 8
	// splitMinPieceWork is the least work (multiply-adds) of each part
	// when a unit is cut into more parts than threads.
	splitMinPieceWork = 1 << 20
)

// splitParts returns how run splits each unit on threads goroutines
// (threads > 1): colParts parts of its columns, each a multiple of
// colAlign columns, times rowParts parts of its rows.
func (q *conv32Plan) splitParts(threads int) (colParts, rowParts, colAlign int) {
	colParts, rowParts, colAlign = 1, 1, asm.PanelWidth
	units := q.units
	if units >= threads {
		return
	}
	per := (threads + units - 1) / units
	// A column split: the columns of a unit that are computed, and the
	// alignment of its parts (whole panels, or bands of pooled rows).
	cols, align := q.cols, asm.PanelWidth
	colOK := q.pool == nil
	if q.pool != nil {
		cols, align, colOK = q.unitCols, q.poolBand, q.poolBand > 0
	}
	steps := 0 // aligned steps of columns
	if colOK {
		steps = (cols + align - 1) / align
		colOK = steps >= 2*per
	}
	// A row split, when every part gets at least 16 rows, beats a column
	// split that leaves the threads uneven shares (for a few aligned
	// steps, or a short last panel) or parts of fewer than two panels
	// (measured on this path with the layers of the speech CNN and the
	// MNIST CNN, which now take conv_pos.go's: the set-up of each part,
	// its padded input rows and the weights it streams, cost more than
	// packing the columns twice).
	if colOK && q.mg >= 16*per {
		largest := 0
		for i := range per {
			lo, hi := splitRange(cols, per, i, align)
			largest = max(largest, hi-lo)
		}
		if 10*largest > 11*cols/per || cols/per < 2*asm.PanelWidth {
			colOK = false
		}
	}
	switch {
	case colOK:
		colParts, colAlign = per, align
		// Finer parts when they cost little: a multiple of per, so that
		// the threads get equal shares when none is late.
		// (Not for a strided 1×1 convolution, whose every part
		// subsamples all of the unit's input.)
		if q.pool == nil && !q.sub {
			fine := min(per*splitPiecesPerThread, steps/splitMinPanels, q.macs/units/splitMinPieceWork)
			if fine >= 2*per {
				colParts = fine / per * per
			}
		}
	default:
		rowParts = min(per, max(1, q.mg/8))
	}
	return
}

// pieceItems returns how many of its items (parts of units, or whole
// units) a split convolution hands out at a time: about splitUnitPieces
// pieces per thread, which cost little more to run apart than together
// and let a thread that starts late leave its share to the others.
func pieceItems(threads, items int) int {
	return max(1, (items+threads*splitUnitPieces-1)/(threads*splitUnitPieces))
}

// splitUnitPieces is about how many pieces of whole units each thread
// gets (see pieceItems).
const splitUnitPieces = 8
