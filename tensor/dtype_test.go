package tensor

import "testing"

// TestSupported checks Supported against the table of named types: every
// named type but Undefined and the complex ones can be created.
func TestSupported(t *testing.T) {
	for d := DType(-2); d < 40; d++ {
		_, named := dtypeNames[d]
		want := named && d != Undefined && d != Complex64 && d != Complex128
		if got := d.Supported(); got != want {
			t.Errorf("%v.Supported() = %v, want %v", d, got, want)
		}
	}
}
