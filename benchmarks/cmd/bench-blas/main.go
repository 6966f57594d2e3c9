// Command bench-blas is cmd/bench's child for OpenBLAS: it times
// cblas_sgemm on one thread over the MatMul model's two input matrices, as
// a reference for the SGEMM table (the best C BLAS on the same machine in
// the same run). It links Debian's libopenblas (make bench installs
// libopenblas-dev).
package main

/*
#cgo LDFLAGS: -lopenblas
// The prototypes of OpenBLAS's cblas.h that this program uses, declared
// here because Debian keeps that header in an architecture folder.
enum CBLAS_ORDER { CblasRowMajor = 101 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111 };
void cblas_sgemm(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int,
	float, const float *, int, const float *, int, float, float *, int);
void openblas_set_num_threads(int);
char *openblas_get_config(void);
*/
import "C"

import (
	"fmt"
	"strings"

	"github.com/onyxrt/onyx/benchmarks/internal/fmaloop"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
)

func main() { harness.Main(openBLAS) }

// blasRunner computes C = A·B for two n×n matrices with cblas_sgemm.
type blasRunner struct {
	n       int
	a, b, c []float32
}

func openBLAS(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	if len(feeds) != 2 || feeds[0].F32 == nil || feeds[1].F32 == nil {
		return nil, "", fmt.Errorf("openblas wants two float32 matrices")
	}
	n := feeds[0].Shape[0]
	if len(feeds[0].Shape) != 2 || feeds[0].Shape[1] != n || len(feeds[1].Shape) != 2 || feeds[1].Shape[0] != n || feeds[1].Shape[1] != n {
		return nil, "", fmt.Errorf("openblas wants two n×n matrices, got %v and %v", feeds[0].Shape, feeds[1].Shape)
	}
	C.openblas_set_num_threads(1)
	version := strings.TrimSpace(C.GoString(C.openblas_get_config()))
	return &blasRunner{n: n, a: feeds[0].F32, b: feeds[1].F32, c: make([]float32, n*n)}, version, nil
}

func (r *blasRunner) Run() error {
	n := C.int(r.n)
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, n, n, n,
		1, (*C.float)(&r.a[0]), n, (*C.float)(&r.b[0]), n, 0, (*C.float)(&r.c[0]), n)
	return nil
}

// Reference runs the FMA loop for half the work of a run (see
// harness.Referenced), as the Onyx kernel's child does.
func (r *blasRunner) Reference() float64 {
	return fmaloop.Beside(2*float64(r.n)*float64(r.n)*float64(r.n)/1e6, 2)
}

func (r *blasRunner) Output() (*harness.Summary, error) {
	return harness.Summarize("C", []int{r.n, r.n}, r.c), nil
}

func (r *blasRunner) Close() {}
