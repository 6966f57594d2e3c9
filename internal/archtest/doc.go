// Package archtest holds tests that keep the code true to ARCHITECTURE.md:
// which packages may import which.
package archtest
